"""Python clients of MLSuite's TrainerService and DownloaderService; they hide gRPC behind typed calls."""

from mlsuite_client.channel import Credentials, create_channel
from mlsuite_client.downloader import DownloaderClient
from mlsuite_client.downloader_types import DownloadedModel, DownloadState, DownloadStatus
from mlsuite_client.errors import (
    AbortedError,
    AlreadyExistsError,
    CancelledError,
    DeadlineExceededError,
    DownloadInProgressError,
    FailedPreconditionError,
    FieldViolation,
    InternalError,
    InvalidArgumentError,
    MLSuiteError,
    NotFoundError,
    PermissionDeniedError,
    ResourceExhaustedError,
    UnauthenticatedError,
    UnavailableError,
)
from mlsuite_client.trainer import TrainerClient, TrainingEventStream
from mlsuite_client.trainer_types import (
    Dataset,
    DatasetColumn,
    EpochProgress,
    FeatureColumn,
    JobState,
    Model,
    ModelType,
    Page,
    ParameterSpec,
    Prediction,
    TrainingError,
    TrainingEvent,
    TrainingJob,
    TrainingJobSpec,
)

__all__ = [
    "Credentials",
    "create_channel",
    # clients
    "TrainerClient",
    "DownloaderClient",
    "TrainingEventStream",
    # trainer values
    "Dataset",
    "DatasetColumn",
    "EpochProgress",
    "FeatureColumn",
    "JobState",
    "Model",
    "ModelType",
    "Page",
    "ParameterSpec",
    "Prediction",
    "TrainingError",
    "TrainingEvent",
    "TrainingJob",
    "TrainingJobSpec",
    # downloader values
    "DownloadState",
    "DownloadStatus",
    "DownloadedModel",
    # errors
    "MLSuiteError",
    "FieldViolation",
    "InvalidArgumentError",
    "NotFoundError",
    "AlreadyExistsError",
    "FailedPreconditionError",
    "AbortedError",
    "DownloadInProgressError",
    "ResourceExhaustedError",
    "PermissionDeniedError",
    "UnauthenticatedError",
    "CancelledError",
    "UnavailableError",
    "DeadlineExceededError",
    "InternalError",
]
