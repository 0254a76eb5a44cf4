"""TrainerClient: the Python face of mlsuite.trainer.v1.TrainerService."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO, Self, TypeVar

import grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from mlsuite_client import _convert as conv
from mlsuite_client import _requests as req
from mlsuite_client.channel import Credentials, channel_for, checked_timeout
from mlsuite_client.errors import InvalidArgumentError, from_rpc_error
from mlsuite_client.trainer_types import (
    Dataset,
    JobState,
    Model,
    ModelType,
    Page,
    Prediction,
    TrainingJob,
    TrainingJobSpec,
)
from mlsuite_client.training_stream import TrainingEventStream

__all__ = ["TrainerClient", "TrainingEventStream", "MAX_CHUNK_BYTES", "MAX_PREDICT_BATCH"]

MAX_CHUNK_BYTES = 1024 * 1024
"""The largest upload chunk the service accepts."""
MAX_PREDICT_BATCH = 10_000
"""The most instances one Predict request may carry."""

_R = TypeVar("_R")
_T = TypeVar("_T")
Hyperparameters = Mapping[str, int | float | str | bool | Sequence[int]]


class TrainerClient:
    """Typed client of the TrainerService; every unary call carries a deadline of `timeout` seconds.

    Given a target ("host:port"), it opens its own channel (mlsuite_client.channel.create_channel) with
    `credentials` (TLS files, a bearer token) or, when None, those of an enclosing default_credentials block.
    """

    def __init__(
        self,
        channel_or_target: grpc.Channel | str,
        *,
        timeout: float | None = 30.0,
        credentials: Credentials | None = None,
    ) -> None:
        self.timeout = checked_timeout(timeout, optional=True)  # None: unary calls have no deadline
        self._channel, self._owns_channel = channel_for(channel_or_target, credentials)
        self._stub = pb_grpc.TrainerServiceStub(self._channel)

    def close(self) -> None:
        """Close the channel if this client created it."""
        if self._owns_channel:
            self._channel.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _call(self, method: Callable[..., _R], request: object, timeout: float | None = None) -> _R:
        try:
            return method(request, timeout=self.timeout if timeout is None else checked_timeout(timeout))
        except grpc.RpcError as exc:
            raise from_rpc_error(exc) from None

    # Datasets

    def upload_dataset(
        self,
        source: str | os.PathLike[str] | IO[bytes],
        *,
        display_name: str = "",
        format: str | None = None,
        sha256: str | None = None,
        request_id: str = "",
        chunk_size: int = MAX_CHUNK_BYTES,
        timeout: float | None = None,
    ) -> Dataset:
        """Upload a CSV or Parquet file (a path or binary file object); format defaults to the suffix."""
        if not 0 < chunk_size <= MAX_CHUNK_BYTES:
            raise ValueError(f"chunk_size must be in 1..{MAX_CHUNK_BYTES}, not {chunk_size}")
        if isinstance(source, (str, os.PathLike)):
            with open(source, "rb") as fileobj:
                return self.upload_dataset(
                    fileobj,
                    display_name=display_name,
                    format=format,
                    sha256=sha256,
                    request_id=request_id,
                    chunk_size=chunk_size,
                    timeout=timeout,
                )
        fmt = format or Path(str(getattr(source, "name", ""))).suffix
        if not fmt:
            raise ValueError("cannot infer the format: pass format='csv' or format='parquet'")
        if sha256 is None:
            sha256 = _sha256_of(source)
        metadata = pb.DatasetMetadata(
            display_name=display_name, format=req.format_to_proto(fmt), sha256=sha256, request_id=request_id
        )

        def requests() -> Iterator[pb.UploadDatasetRequest]:
            yield pb.UploadDatasetRequest(metadata=metadata)
            while chunk := source.read(chunk_size):
                yield pb.UploadDatasetRequest(chunk=chunk)

        response = self._call(self._stub.UploadDataset, requests(), timeout)
        return conv.dataset_from_proto(response.dataset)

    def get_dataset(self, name: str | Dataset) -> Dataset:
        """One dataset by name ("datasets/{id}")."""
        response = self._call(self._stub.GetDataset, pb.GetDatasetRequest(name=_name(name)))
        return conv.dataset_from_proto(response.dataset)

    def list_datasets(self, page_size: int = 0, page_token: str = "") -> Page[Dataset]:
        """One page of datasets, newest first (page_size 0 means the server's default, 50)."""
        response = self._call(
            self._stub.ListDatasets, pb.ListDatasetsRequest(page_size=page_size, page_token=page_token)
        )
        items = tuple(conv.dataset_from_proto(d) for d in response.datasets)
        return Page(items, response.next_page_token)

    def iter_datasets(self, page_size: int = 0) -> Iterator[Dataset]:
        """Every dataset, newest first, fetching pages as needed."""
        return _all_pages(lambda token: self.list_datasets(page_size, token))

    def delete_dataset(self, name: str | Dataset) -> None:
        """Delete a dataset and its bytes."""
        self._call(self._stub.DeleteDataset, pb.DeleteDatasetRequest(name=_name(name)))

    # Model types

    def list_model_types(self, category: str | None = None) -> list[ModelType]:
        """The registry: every model type (or only "regression" / "classification") with its parameters."""
        request = pb.ListModelTypesRequest(category=req.category_to_proto(category))
        response = self._call(self._stub.ListModelTypes, request)
        return [conv.model_type_from_proto(mt) for mt in response.model_types]

    # Training jobs

    def create_training_job(
        self,
        dataset: str | Dataset,
        target_column: str,
        *,
        model_type: str,
        feature_columns: Sequence[str] = (),
        hyperparameters: Hyperparameters | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        device: str = "auto",
        request_id: str = "",
    ) -> TrainingJob:
        """Start a training job and return it at once; a repeated request_id returns the first job."""
        spec = _spec(
            dataset,
            target_column,
            model_type,
            feature_columns,
            hyperparameters,
            validation_fraction,
            seed,
            device,
        )
        request = pb.CreateTrainingJobRequest(spec=req.spec_to_proto(spec), request_id=request_id)
        return conv.job_from_proto(self._call(self._stub.CreateTrainingJob, request).training_job)

    def train(
        self,
        dataset: str | Dataset,
        target_column: str,
        *,
        model_type: str,
        feature_columns: Sequence[str] = (),
        hyperparameters: Hyperparameters | None = None,
        validation_fraction: float = 0.0,
        seed: int = 0,
        device: str = "auto",
        request_id: str = "",
        timeout: float | None = None,
    ) -> TrainingEventStream:
        """Create a job and stream its events until it ends (no deadline unless timeout is given)."""
        spec = _spec(
            dataset,
            target_column,
            model_type,
            feature_columns,
            hyperparameters,
            validation_fraction,
            seed,
            device,
        )
        request = pb.TrainRequest(spec=req.spec_to_proto(spec), request_id=request_id)
        return TrainingEventStream(self._stub.Train(request, timeout=checked_timeout(timeout, optional=True)))

    def watch_training_job(
        self, name: str | TrainingJob, after_sequence: int = 0, *, timeout: float | None = None
    ) -> TrainingEventStream:
        """Stream a job's snapshot, its stored events after after_sequence, then live ones until it ends."""
        request = pb.WatchTrainingJobRequest(name=_name(name), after_sequence=after_sequence)
        call = self._stub.WatchTrainingJob(request, timeout=checked_timeout(timeout, optional=True))
        return TrainingEventStream(call, after_sequence)

    def get_training_job(self, name: str | TrainingJob) -> TrainingJob:
        """One training job by name ("trainingJobs/{id}")."""
        response = self._call(self._stub.GetTrainingJob, pb.GetTrainingJobRequest(name=_name(name)))
        return conv.job_from_proto(response.training_job)

    def list_training_jobs(
        self, state: JobState | str | None = None, page_size: int = 0, page_token: str = ""
    ) -> Page[TrainingJob]:
        """One page of training jobs, newest first, optionally only those in one state."""
        request = pb.ListTrainingJobsRequest(
            page_size=page_size, page_token=page_token, state=req.state_to_proto(state)
        )
        response = self._call(self._stub.ListTrainingJobs, request)
        jobs = tuple(conv.job_from_proto(j) for j in response.training_jobs)
        return Page(jobs, response.next_page_token)

    def iter_training_jobs(
        self, state: JobState | str | None = None, page_size: int = 0
    ) -> Iterator[TrainingJob]:
        """Every training job (optionally in one state), newest first."""
        return _all_pages(lambda token: self.list_training_jobs(state, page_size, token))

    def cancel_training_job(self, name: str | TrainingJob) -> TrainingJob:
        """Ask a queued or running job to stop; returns it CANCELLING or CANCELLED."""
        request = pb.CancelTrainingJobRequest(name=_name(name))
        return conv.job_from_proto(self._call(self._stub.CancelTrainingJob, request).training_job)

    # Models

    def get_model(self, name: str | Model) -> Model:
        """One trained model by name ("models/{id}")."""
        response = self._call(self._stub.GetModel, pb.GetModelRequest(name=_name(name)))
        return conv.model_from_proto(response.model)

    def list_models(self, page_size: int = 0, page_token: str = "") -> Page[Model]:
        """One page of models, newest first."""
        request = pb.ListModelsRequest(page_size=page_size, page_token=page_token)
        response = self._call(self._stub.ListModels, request)
        return Page(tuple(conv.model_from_proto(m) for m in response.models), response.next_page_token)

    def iter_models(self, page_size: int = 0) -> Iterator[Model]:
        """Every model, newest first."""
        return _all_pages(lambda token: self.list_models(page_size, token))

    def delete_model(self, name: str | Model) -> None:
        """Delete a model and its artifacts."""
        self._call(self._stub.DeleteModel, pb.DeleteModelRequest(name=_name(name)))

    def predict(
        self, model: str | Model, instances: Sequence[Mapping[str, object]], *, batch_size: int = 1000
    ) -> list[Prediction]:
        """One prediction per instance, in order; None/NaN are missing values; batch_size rows per call."""
        if not 0 < batch_size <= MAX_PREDICT_BATCH:
            raise ValueError(f"batch_size must be in 1..{MAX_PREDICT_BATCH}, not {batch_size}")
        predictions: list[Prediction] = []
        for start in range(0, len(instances), batch_size):
            structs = [req.instance_to_struct(i) for i in instances[start : start + batch_size]]
            request = pb.PredictRequest(model=_name(model), instances=structs)
            response = self._call(self._stub.Predict, request)
            predictions.extend(conv.prediction_from_proto(p) for p in response.predictions)
        return predictions

    def predict_columns(
        self, model: str | Model, columns: Mapping[str, Sequence[object]], *, batch_size: int = 1000
    ) -> list[Prediction]:
        """One prediction per row of `columns` (feature name -> its value in every row; a pandas DataFrame
        works), sent column by column: for many rows far cheaper than predict() on both ends.

        A column holding any str is text, any other numbers (bools as 1 / 0); None, NaN and pandas' NA are
        missing. Every column is checked whole before the first call. A server older than columnar Predict
        answers NO_INSTANCES; the rows then go as instances instead.
        """
        if not 0 < batch_size <= MAX_PREDICT_BATCH:
            raise ValueError(f"batch_size must be in 1..{MAX_PREDICT_BATCH}, not {batch_size}")
        data = {str(name): req.PredictColumn(str(name), columns[name]) for name in columns.keys()}  # noqa: SIM118
        lengths = {column.rows for column in data.values()}
        if len(lengths) > 1:
            raise ValueError(f"every column must hold the same number of rows, not {sorted(lengths)}")
        rows = lengths.pop() if lengths else 0
        predictions: list[Prediction] = []
        for start in range(0, rows, batch_size):
            batch = {name: column.to_proto(start, start + batch_size) for name, column in data.items()}
            request = pb.PredictRequest(model=_name(model), columns=batch)
            try:
                response = self._call(self._stub.Predict, request)
            except InvalidArgumentError as error:
                if start or not _predates_columns(error):
                    raise
                return self.predict(model, _rows_of(data, rows), batch_size=batch_size)
            predictions.extend(conv.prediction_from_proto(p) for p in response.predictions)
        return predictions


def _predates_columns(error: InvalidArgumentError) -> bool:
    """A server that ignores PredictRequest.columns sees no rows and says so about `instances`."""
    return error.reason == "NO_INSTANCES" and any(v.field == "instances" for v in error.field_violations)


def _rows_of(columns: Mapping[str, req.PredictColumn], rows: int) -> list[dict[str, object]]:
    """The checked columns as instances (bools stay bools, as bool features need there; missing is None)."""
    cells = {name: column.values() for name, column in columns.items()}
    return [{name: values[i] for name, values in cells.items()} for i in range(rows)]


def _name(resource: str | Dataset | TrainingJob | Model) -> str:
    return resource if isinstance(resource, str) else resource.name


def _spec(
    dataset: str | Dataset,
    target_column: str,
    model_type: str,
    feature_columns: Sequence[str],
    hyperparameters: Hyperparameters | None,
    validation_fraction: float,
    seed: int,
    device: str,
) -> TrainingJobSpec:
    if isinstance(feature_columns, str):
        raise TypeError("feature_columns must be a sequence of column names, not a string")
    return TrainingJobSpec(
        dataset=_name(dataset),
        target_column=target_column,
        model_type=model_type,
        feature_columns=tuple(feature_columns),
        hyperparameters=dict(hyperparameters or {}),  # type: ignore[arg-type]  # lists become tuples later
        validation_fraction=validation_fraction,
        seed=seed,
        device=device,
    )


def _sha256_of(fileobj: IO[bytes]) -> str:
    """Hex SHA-256 of the rest of a seekable file, rewinding it; "" (server computes) if not seekable."""
    if not (hasattr(fileobj, "seekable") and fileobj.seekable()):
        return ""
    start = fileobj.tell()
    digest = hashlib.sha256()
    while block := fileobj.read(MAX_CHUNK_BYTES):
        digest.update(block)
    fileobj.seek(start)
    return digest.hexdigest()


def _all_pages(fetch: Callable[[str], Page[_T]]) -> Iterator[_T]:
    token = ""
    while True:
        page = fetch(token)
        yield from page.items
        token = page.next_page_token
        if not token:
            return
