"""TrainerService servicer: validate the request's shape, convert, call the core, convert back."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator
from datetime import UTC, datetime

import grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from mlsuite_common.errors import InvalidArgument
from trainer_service import convert, registry
from trainer_service.core import TrainerCore
from trainer_service.dataset_catalog import UploadMetadata
from trainer_service.records import JobEvent

__all__ = ["TrainerServicer", "EncodedEvents"]


def _upload_parts(requests: Iterator[pb.UploadDatasetRequest]) -> tuple[UploadMetadata, Iterator[bytes]]:
    first = next(requests, None)
    if first is None or first.WhichOneof("payload") != "metadata":
        raise InvalidArgument("the first message of an upload must carry metadata", field="metadata",
                              reason="METADATA_FIRST")
    meta = first.metadata
    metadata = UploadMetadata(
        display_name=meta.display_name, format=convert.dataset_format(meta.format), sha256=meta.sha256,
        request_id=meta.request_id,
    )

    def chunks() -> Iterator[bytes]:
        for index, request in enumerate(requests, start=1):
            payload = request.WhichOneof("payload")
            if payload == "metadata":
                raise InvalidArgument(f"message {index} repeats metadata; only the first may carry it",
                                      field="metadata", reason="METADATA_REPEATED")
            if payload is None:
                raise InvalidArgument(f"message {index} carries neither metadata nor a chunk", field="chunk",
                                      reason="EMPTY_MESSAGE")
            yield request.chunk

    return metadata, chunks()


class EncodedEvents:
    """Stored events encoded once and shared by every stream that sends them.

    An epoch event goes to every watcher of its job; converting and serialising it once instead of
    once per watcher takes most of the per-watcher Python work off the server. WatchTrainingJobResponse
    and TrainResponse both hold just `TrainingEvent event = 1`, so the same bytes serve both.
    """

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._encoded: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, job_name: str, event: JobEvent) -> bytes:
        """The wire bytes of a Watch/Train response carrying this stored event."""
        key = (job_name, event.sequence)
        with self._lock:
            encoded = self._encoded.get(key)
            if encoded is not None:
                self._encoded.move_to_end(key)
                return encoded
        encoded = pb.WatchTrainingJobResponse(event=convert.event(event, datetime.now(UTC))).SerializeToString()
        with self._lock:
            self._encoded[key] = encoded
            while len(self._encoded) > self._size:
                self._encoded.popitem(last=False)
        return encoded


class TrainerServicer(pb_grpc.TrainerServiceServicer):
    """Adapter from gRPC to TrainerCore.

    WatchTrainingJob and Train yield stored events as pre-encoded bytes (EncodedEvents); the server
    registers the service with a serializer that passes bytes through (server.add_servicer).
    """

    def __init__(self, core: TrainerCore) -> None:
        self._core = core
        self._encoded = EncodedEvents()

    def UploadDataset(self, request_iterator, context):  # noqa: N802
        """Stream an upload into the dataset catalog."""
        metadata, chunks = _upload_parts(iter(request_iterator))
        dataset = self._core.datasets.upload(metadata, chunks, abandoned=lambda: not context.is_active())
        return pb.UploadDatasetResponse(dataset=convert.dataset(dataset))

    def GetDataset(self, request, context):  # noqa: N802
        """One dataset."""
        return pb.GetDatasetResponse(dataset=convert.dataset(self._core.datasets.get(request.name)))

    def ListDatasets(self, request, context):  # noqa: N802
        """A page of datasets."""
        page = self._core.datasets.list(request.page_size, request.page_token)
        return pb.ListDatasetsResponse(datasets=[convert.dataset(d) for d in page.items],
                                       next_page_token=page.next_page_token)

    def DeleteDataset(self, request, context):  # noqa: N802
        """Delete a dataset."""
        self._core.datasets.delete(request.name)
        return pb.DeleteDatasetResponse()

    def ListModelTypes(self, request, context):  # noqa: N802
        """The registry."""
        types = registry.list_model_types(convert.category_from_proto(request.category))
        return pb.ListModelTypesResponse(model_types=[convert.model_type(t) for t in types])

    def CreateTrainingJob(self, request, context):  # noqa: N802
        """Create (or, by request_id, find) a job."""
        job = self._core.jobs.create(convert.spec_from_proto(request.spec), request.request_id)
        return pb.CreateTrainingJobResponse(training_job=convert.training_job(job))

    def GetTrainingJob(self, request, context):  # noqa: N802
        """One job."""
        return pb.GetTrainingJobResponse(training_job=convert.training_job(self._core.jobs.get(request.name)))

    def ListTrainingJobs(self, request, context):  # noqa: N802
        """A page of jobs."""
        page = self._core.jobs.list(convert.job_state_from_proto(request.state), request.page_size,
                                    request.page_token)
        return pb.ListTrainingJobsResponse(training_jobs=[convert.training_job(j) for j in page.items],
                                           next_page_token=page.next_page_token)

    def CancelTrainingJob(self, request, context):  # noqa: N802
        """Cancel a job."""
        return pb.CancelTrainingJobResponse(training_job=convert.training_job(self._core.jobs.cancel(request.name)))

    def _events(
        self, name: str, after_sequence: int, context: grpc.ServicerContext
    ) -> Iterator[pb.TrainingEvent | bytes]:
        """Stored events as encoded responses; the snapshot and heartbeats (stamped now) as messages."""
        for item in self._core.jobs.watch(name, after_sequence, context.add_callback):
            if isinstance(item, JobEvent):
                yield self._encoded.get(name, item)
            else:
                yield convert.event(item, datetime.now(UTC))

    def WatchTrainingJob(self, request, context):  # noqa: N802
        """Snapshot, stored events, live events, heartbeats."""
        for event in self._events(request.name, request.after_sequence, context):
            yield event if isinstance(event, bytes) else pb.WatchTrainingJobResponse(event=event)

    def Train(self, request, context):  # noqa: N802
        """Create and watch in one call."""
        job = self._core.jobs.create(convert.spec_from_proto(request.spec), request.request_id)
        for event in self._events(f"trainingJobs/{job.id}", 0, context):
            yield event if isinstance(event, bytes) else pb.TrainResponse(event=event)

    def GetModel(self, request, context):  # noqa: N802
        """One model."""
        return pb.GetModelResponse(model=convert.model(self._core.models.get(request.name)))

    def ListModels(self, request, context):  # noqa: N802
        """A page of models."""
        page = self._core.models.list(request.page_size, request.page_token)
        return pb.ListModelsResponse(models=[convert.model(m) for m in page.items],
                                     next_page_token=page.next_page_token)

    def DeleteModel(self, request, context):  # noqa: N802
        """Delete a model."""
        self._core.models.delete(request.name)
        return pb.DeleteModelResponse()

    def Predict(self, request, context):  # noqa: N802
        """Predict with a model."""
        _, predictions = self._core.models.predict(request.model, convert.prediction_rows(request))
        return pb.PredictResponse(predictions=[convert.prediction(p) for p in predictions])
