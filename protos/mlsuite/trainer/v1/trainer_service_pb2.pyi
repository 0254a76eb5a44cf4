import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DatasetFormat(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATASET_FORMAT_UNSPECIFIED: _ClassVar[DatasetFormat]
    DATASET_FORMAT_CSV: _ClassVar[DatasetFormat]
    DATASET_FORMAT_PARQUET: _ClassVar[DatasetFormat]

class ColumnType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLUMN_TYPE_UNSPECIFIED: _ClassVar[ColumnType]
    COLUMN_TYPE_INT64: _ClassVar[ColumnType]
    COLUMN_TYPE_DOUBLE: _ClassVar[ColumnType]
    COLUMN_TYPE_STRING: _ClassVar[ColumnType]
    COLUMN_TYPE_BOOL: _ClassVar[ColumnType]

class ModelCategory(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_CATEGORY_UNSPECIFIED: _ClassVar[ModelCategory]
    MODEL_CATEGORY_SUPERVISED_REGRESSION: _ClassVar[ModelCategory]
    MODEL_CATEGORY_SUPERVISED_CLASSIFICATION: _ClassVar[ModelCategory]

class Device(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DEVICE_UNSPECIFIED: _ClassVar[Device]
    DEVICE_AUTO: _ClassVar[Device]
    DEVICE_CPU: _ClassVar[Device]
    DEVICE_CUDA: _ClassVar[Device]
    DEVICE_MPS: _ClassVar[Device]

class TrainingJobState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_JOB_STATE_UNSPECIFIED: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_QUEUED: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_RUNNING: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_CANCELLING: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_SUCCEEDED: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_FAILED: _ClassVar[TrainingJobState]
    TRAINING_JOB_STATE_CANCELLED: _ClassVar[TrainingJobState]

class TrainingPhase(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    TRAINING_PHASE_UNSPECIFIED: _ClassVar[TrainingPhase]
    TRAINING_PHASE_LOADING_DATA: _ClassVar[TrainingPhase]
    TRAINING_PHASE_PREPROCESSING: _ClassVar[TrainingPhase]
    TRAINING_PHASE_FITTING: _ClassVar[TrainingPhase]
    TRAINING_PHASE_EVALUATING: _ClassVar[TrainingPhase]
    TRAINING_PHASE_SAVING: _ClassVar[TrainingPhase]

class ModelSpeed(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_SPEED_UNSPECIFIED: _ClassVar[ModelSpeed]
    MODEL_SPEED_FAST: _ClassVar[ModelSpeed]
    MODEL_SPEED_MEDIUM: _ClassVar[ModelSpeed]
    MODEL_SPEED_SLOW: _ClassVar[ModelSpeed]

class ModelComplexity(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MODEL_COMPLEXITY_UNSPECIFIED: _ClassVar[ModelComplexity]
    MODEL_COMPLEXITY_LOW: _ClassVar[ModelComplexity]
    MODEL_COMPLEXITY_MEDIUM: _ClassVar[ModelComplexity]
    MODEL_COMPLEXITY_HIGH: _ClassVar[ModelComplexity]
DATASET_FORMAT_UNSPECIFIED: DatasetFormat
DATASET_FORMAT_CSV: DatasetFormat
DATASET_FORMAT_PARQUET: DatasetFormat
COLUMN_TYPE_UNSPECIFIED: ColumnType
COLUMN_TYPE_INT64: ColumnType
COLUMN_TYPE_DOUBLE: ColumnType
COLUMN_TYPE_STRING: ColumnType
COLUMN_TYPE_BOOL: ColumnType
MODEL_CATEGORY_UNSPECIFIED: ModelCategory
MODEL_CATEGORY_SUPERVISED_REGRESSION: ModelCategory
MODEL_CATEGORY_SUPERVISED_CLASSIFICATION: ModelCategory
DEVICE_UNSPECIFIED: Device
DEVICE_AUTO: Device
DEVICE_CPU: Device
DEVICE_CUDA: Device
DEVICE_MPS: Device
TRAINING_JOB_STATE_UNSPECIFIED: TrainingJobState
TRAINING_JOB_STATE_QUEUED: TrainingJobState
TRAINING_JOB_STATE_RUNNING: TrainingJobState
TRAINING_JOB_STATE_CANCELLING: TrainingJobState
TRAINING_JOB_STATE_SUCCEEDED: TrainingJobState
TRAINING_JOB_STATE_FAILED: TrainingJobState
TRAINING_JOB_STATE_CANCELLED: TrainingJobState
TRAINING_PHASE_UNSPECIFIED: TrainingPhase
TRAINING_PHASE_LOADING_DATA: TrainingPhase
TRAINING_PHASE_PREPROCESSING: TrainingPhase
TRAINING_PHASE_FITTING: TrainingPhase
TRAINING_PHASE_EVALUATING: TrainingPhase
TRAINING_PHASE_SAVING: TrainingPhase
MODEL_SPEED_UNSPECIFIED: ModelSpeed
MODEL_SPEED_FAST: ModelSpeed
MODEL_SPEED_MEDIUM: ModelSpeed
MODEL_SPEED_SLOW: ModelSpeed
MODEL_COMPLEXITY_UNSPECIFIED: ModelComplexity
MODEL_COMPLEXITY_LOW: ModelComplexity
MODEL_COMPLEXITY_MEDIUM: ModelComplexity
MODEL_COMPLEXITY_HIGH: ModelComplexity

class DatasetMetadata(_message.Message):
    __slots__ = ("display_name", "format", "sha256", "request_id")
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    display_name: str
    format: DatasetFormat
    sha256: str
    request_id: str
    def __init__(self, display_name: _Optional[str] = ..., format: _Optional[_Union[DatasetFormat, str]] = ..., sha256: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class UploadDatasetRequest(_message.Message):
    __slots__ = ("metadata", "chunk")
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    metadata: DatasetMetadata
    chunk: bytes
    def __init__(self, metadata: _Optional[_Union[DatasetMetadata, _Mapping]] = ..., chunk: _Optional[bytes] = ...) -> None: ...

class UploadDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class DatasetColumn(_message.Message):
    __slots__ = ("name", "dtype", "null_count")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    NULL_COUNT_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: ColumnType
    null_count: int
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[_Union[ColumnType, str]] = ..., null_count: _Optional[int] = ...) -> None: ...

class Dataset(_message.Message):
    __slots__ = ("name", "display_name", "format", "row_count", "columns", "size_bytes", "sha256", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    ROW_COUNT_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    format: DatasetFormat
    row_count: int
    columns: _containers.RepeatedCompositeFieldContainer[DatasetColumn]
    size_bytes: int
    sha256: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., format: _Optional[_Union[DatasetFormat, str]] = ..., row_count: _Optional[int] = ..., columns: _Optional[_Iterable[_Union[DatasetColumn, _Mapping]]] = ..., size_bytes: _Optional[int] = ..., sha256: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetDatasetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetDatasetResponse(_message.Message):
    __slots__ = ("dataset",)
    DATASET_FIELD_NUMBER: _ClassVar[int]
    dataset: Dataset
    def __init__(self, dataset: _Optional[_Union[Dataset, _Mapping]] = ...) -> None: ...

class ListDatasetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDatasetsResponse(_message.Message):
    __slots__ = ("datasets", "next_page_token")
    DATASETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    datasets: _containers.RepeatedCompositeFieldContainer[Dataset]
    next_page_token: str
    def __init__(self, datasets: _Optional[_Iterable[_Union[Dataset, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteDatasetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteDatasetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListModelTypesRequest(_message.Message):
    __slots__ = ("category",)
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    category: ModelCategory
    def __init__(self, category: _Optional[_Union[ModelCategory, str]] = ...) -> None: ...

class ListModelTypesResponse(_message.Message):
    __slots__ = ("model_types",)
    MODEL_TYPES_FIELD_NUMBER: _ClassVar[int]
    model_types: _containers.RepeatedCompositeFieldContainer[ModelType]
    def __init__(self, model_types: _Optional[_Iterable[_Union[ModelType, _Mapping]]] = ...) -> None: ...

class ModelType(_message.Message):
    __slots__ = ("id", "display_name", "category", "description", "speed", "complexity", "available", "gpu_accelerated", "parameters")
    ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    SPEED_FIELD_NUMBER: _ClassVar[int]
    COMPLEXITY_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    GPU_ACCELERATED_FIELD_NUMBER: _ClassVar[int]
    PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    id: str
    display_name: str
    category: ModelCategory
    description: str
    speed: ModelSpeed
    complexity: ModelComplexity
    available: bool
    gpu_accelerated: bool
    parameters: _containers.RepeatedCompositeFieldContainer[ParameterSpec]
    def __init__(self, id: _Optional[str] = ..., display_name: _Optional[str] = ..., category: _Optional[_Union[ModelCategory, str]] = ..., description: _Optional[str] = ..., speed: _Optional[_Union[ModelSpeed, str]] = ..., complexity: _Optional[_Union[ModelComplexity, str]] = ..., available: _Optional[bool] = ..., gpu_accelerated: _Optional[bool] = ..., parameters: _Optional[_Iterable[_Union[ParameterSpec, _Mapping]]] = ...) -> None: ...

class ParameterSpec(_message.Message):
    __slots__ = ("name", "description", "int_spec", "double_spec", "categorical_spec", "bool_spec", "int_list_spec")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    INT_SPEC_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_SPEC_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_SPEC_FIELD_NUMBER: _ClassVar[int]
    BOOL_SPEC_FIELD_NUMBER: _ClassVar[int]
    INT_LIST_SPEC_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    int_spec: IntParameterSpec
    double_spec: DoubleParameterSpec
    categorical_spec: CategoricalParameterSpec
    bool_spec: BoolParameterSpec
    int_list_spec: IntListParameterSpec
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ..., int_spec: _Optional[_Union[IntParameterSpec, _Mapping]] = ..., double_spec: _Optional[_Union[DoubleParameterSpec, _Mapping]] = ..., categorical_spec: _Optional[_Union[CategoricalParameterSpec, _Mapping]] = ..., bool_spec: _Optional[_Union[BoolParameterSpec, _Mapping]] = ..., int_list_spec: _Optional[_Union[IntListParameterSpec, _Mapping]] = ...) -> None: ...

class IntParameterSpec(_message.Message):
    __slots__ = ("default_value", "min_value", "max_value")
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    default_value: int
    min_value: int
    max_value: int
    def __init__(self, default_value: _Optional[int] = ..., min_value: _Optional[int] = ..., max_value: _Optional[int] = ...) -> None: ...

class DoubleParameterSpec(_message.Message):
    __slots__ = ("default_value", "min_value", "max_value")
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    default_value: float
    min_value: float
    max_value: float
    def __init__(self, default_value: _Optional[float] = ..., min_value: _Optional[float] = ..., max_value: _Optional[float] = ...) -> None: ...

class CategoricalParameterSpec(_message.Message):
    __slots__ = ("default_value", "choices")
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    CHOICES_FIELD_NUMBER: _ClassVar[int]
    default_value: str
    choices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, default_value: _Optional[str] = ..., choices: _Optional[_Iterable[str]] = ...) -> None: ...

class BoolParameterSpec(_message.Message):
    __slots__ = ("default_value",)
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    default_value: bool
    def __init__(self, default_value: _Optional[bool] = ...) -> None: ...

class IntListParameterSpec(_message.Message):
    __slots__ = ("default_value", "min_length", "max_length", "min_value", "max_value")
    DEFAULT_VALUE_FIELD_NUMBER: _ClassVar[int]
    MIN_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MAX_LENGTH_FIELD_NUMBER: _ClassVar[int]
    MIN_VALUE_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    default_value: _containers.RepeatedScalarFieldContainer[int]
    min_length: int
    max_length: int
    min_value: int
    max_value: int
    def __init__(self, default_value: _Optional[_Iterable[int]] = ..., min_length: _Optional[int] = ..., max_length: _Optional[int] = ..., min_value: _Optional[int] = ..., max_value: _Optional[int] = ...) -> None: ...

class IntList(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class HyperparameterValue(_message.Message):
    __slots__ = ("int_value", "double_value", "string_value", "bool_value", "int_list_value")
    INT_VALUE_FIELD_NUMBER: _ClassVar[int]
    DOUBLE_VALUE_FIELD_NUMBER: _ClassVar[int]
    STRING_VALUE_FIELD_NUMBER: _ClassVar[int]
    BOOL_VALUE_FIELD_NUMBER: _ClassVar[int]
    INT_LIST_VALUE_FIELD_NUMBER: _ClassVar[int]
    int_value: int
    double_value: float
    string_value: str
    bool_value: bool
    int_list_value: IntList
    def __init__(self, int_value: _Optional[int] = ..., double_value: _Optional[float] = ..., string_value: _Optional[str] = ..., bool_value: _Optional[bool] = ..., int_list_value: _Optional[_Union[IntList, _Mapping]] = ...) -> None: ...

class TrainingJobSpec(_message.Message):
    __slots__ = ("dataset", "target_column", "feature_columns", "model_type", "hyperparameters", "validation_fraction", "seed", "device")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: HyperparameterValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[HyperparameterValue, _Mapping]] = ...) -> None: ...
    DATASET_FIELD_NUMBER: _ClassVar[int]
    TARGET_COLUMN_FIELD_NUMBER: _ClassVar[int]
    FEATURE_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_FRACTION_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    dataset: str
    target_column: str
    feature_columns: _containers.RepeatedScalarFieldContainer[str]
    model_type: str
    hyperparameters: _containers.MessageMap[str, HyperparameterValue]
    validation_fraction: float
    seed: int
    device: Device
    def __init__(self, dataset: _Optional[str] = ..., target_column: _Optional[str] = ..., feature_columns: _Optional[_Iterable[str]] = ..., model_type: _Optional[str] = ..., hyperparameters: _Optional[_Mapping[str, HyperparameterValue]] = ..., validation_fraction: _Optional[float] = ..., seed: _Optional[int] = ..., device: _Optional[_Union[Device, str]] = ...) -> None: ...

class TrainingError(_message.Message):
    __slots__ = ("reason", "message")
    REASON_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    reason: str
    message: str
    def __init__(self, reason: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class TrainingJob(_message.Message):
    __slots__ = ("name", "spec", "state", "request_id", "create_time", "start_time", "end_time", "phase", "latest_epoch", "metrics", "model", "error", "device", "dropped_target_rows", "train_rows", "validation_rows", "last_sequence", "resolved_hyperparameters")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class ResolvedHyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: HyperparameterValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[HyperparameterValue, _Mapping]] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    LATEST_EPOCH_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DROPPED_TARGET_ROWS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ROWS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RESOLVED_HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    spec: TrainingJobSpec
    state: TrainingJobState
    request_id: str
    create_time: _timestamp_pb2.Timestamp
    start_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    phase: TrainingPhase
    latest_epoch: EpochProgress
    metrics: _containers.ScalarMap[str, float]
    model: str
    error: TrainingError
    device: str
    dropped_target_rows: int
    train_rows: int
    validation_rows: int
    last_sequence: int
    resolved_hyperparameters: _containers.MessageMap[str, HyperparameterValue]
    def __init__(self, name: _Optional[str] = ..., spec: _Optional[_Union[TrainingJobSpec, _Mapping]] = ..., state: _Optional[_Union[TrainingJobState, str]] = ..., request_id: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., phase: _Optional[_Union[TrainingPhase, str]] = ..., latest_epoch: _Optional[_Union[EpochProgress, _Mapping]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., model: _Optional[str] = ..., error: _Optional[_Union[TrainingError, _Mapping]] = ..., device: _Optional[str] = ..., dropped_target_rows: _Optional[int] = ..., train_rows: _Optional[int] = ..., validation_rows: _Optional[int] = ..., last_sequence: _Optional[int] = ..., resolved_hyperparameters: _Optional[_Mapping[str, HyperparameterValue]] = ...) -> None: ...

class EpochProgress(_message.Message):
    __slots__ = ("epoch", "total_epochs", "train_loss", "validation_loss", "learning_rate", "samples_per_second", "elapsed", "eta")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_LOSS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_LOSS_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    SAMPLES_PER_SECOND_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_FIELD_NUMBER: _ClassVar[int]
    ETA_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    total_epochs: int
    train_loss: float
    validation_loss: float
    learning_rate: float
    samples_per_second: float
    elapsed: _duration_pb2.Duration
    eta: _duration_pb2.Duration
    def __init__(self, epoch: _Optional[int] = ..., total_epochs: _Optional[int] = ..., train_loss: _Optional[float] = ..., validation_loss: _Optional[float] = ..., learning_rate: _Optional[float] = ..., samples_per_second: _Optional[float] = ..., elapsed: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., eta: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class PhaseChange(_message.Message):
    __slots__ = ("phase",)
    PHASE_FIELD_NUMBER: _ClassVar[int]
    phase: TrainingPhase
    def __init__(self, phase: _Optional[_Union[TrainingPhase, str]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StateChange(_message.Message):
    __slots__ = ("error", "message")
    ERROR_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    error: TrainingError
    message: str
    def __init__(self, error: _Optional[_Union[TrainingError, _Mapping]] = ..., message: _Optional[str] = ...) -> None: ...

class TrainingResult(_message.Message):
    __slots__ = ("metrics", "model")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    METRICS_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    metrics: _containers.ScalarMap[str, float]
    model: str
    def __init__(self, metrics: _Optional[_Mapping[str, float]] = ..., model: _Optional[str] = ...) -> None: ...

class TrainingEvent(_message.Message):
    __slots__ = ("sequence", "time", "state", "snapshot", "epoch_progress", "phase_change", "heartbeat", "state_change", "result")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SNAPSHOT_FIELD_NUMBER: _ClassVar[int]
    EPOCH_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    PHASE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGE_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    time: _timestamp_pb2.Timestamp
    state: TrainingJobState
    snapshot: TrainingJob
    epoch_progress: EpochProgress
    phase_change: PhaseChange
    heartbeat: Heartbeat
    state_change: StateChange
    result: TrainingResult
    def __init__(self, sequence: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[TrainingJobState, str]] = ..., snapshot: _Optional[_Union[TrainingJob, _Mapping]] = ..., epoch_progress: _Optional[_Union[EpochProgress, _Mapping]] = ..., phase_change: _Optional[_Union[PhaseChange, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., state_change: _Optional[_Union[StateChange, _Mapping]] = ..., result: _Optional[_Union[TrainingResult, _Mapping]] = ...) -> None: ...

class CreateTrainingJobRequest(_message.Message):
    __slots__ = ("spec", "request_id")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    spec: TrainingJobSpec
    request_id: str
    def __init__(self, spec: _Optional[_Union[TrainingJobSpec, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateTrainingJobResponse(_message.Message):
    __slots__ = ("training_job",)
    TRAINING_JOB_FIELD_NUMBER: _ClassVar[int]
    training_job: TrainingJob
    def __init__(self, training_job: _Optional[_Union[TrainingJob, _Mapping]] = ...) -> None: ...

class GetTrainingJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetTrainingJobResponse(_message.Message):
    __slots__ = ("training_job",)
    TRAINING_JOB_FIELD_NUMBER: _ClassVar[int]
    training_job: TrainingJob
    def __init__(self, training_job: _Optional[_Union[TrainingJob, _Mapping]] = ...) -> None: ...

class ListTrainingJobsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "state")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    state: TrainingJobState
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[TrainingJobState, str]] = ...) -> None: ...

class ListTrainingJobsResponse(_message.Message):
    __slots__ = ("training_jobs", "next_page_token")
    TRAINING_JOBS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    training_jobs: _containers.RepeatedCompositeFieldContainer[TrainingJob]
    next_page_token: str
    def __init__(self, training_jobs: _Optional[_Iterable[_Union[TrainingJob, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelTrainingJobRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CancelTrainingJobResponse(_message.Message):
    __slots__ = ("training_job",)
    TRAINING_JOB_FIELD_NUMBER: _ClassVar[int]
    training_job: TrainingJob
    def __init__(self, training_job: _Optional[_Union[TrainingJob, _Mapping]] = ...) -> None: ...

class WatchTrainingJobRequest(_message.Message):
    __slots__ = ("name", "after_sequence")
    NAME_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    after_sequence: int
    def __init__(self, name: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class WatchTrainingJobResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: TrainingEvent
    def __init__(self, event: _Optional[_Union[TrainingEvent, _Mapping]] = ...) -> None: ...

class TrainRequest(_message.Message):
    __slots__ = ("spec", "request_id")
    SPEC_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    spec: TrainingJobSpec
    request_id: str
    def __init__(self, spec: _Optional[_Union[TrainingJobSpec, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class TrainResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: TrainingEvent
    def __init__(self, event: _Optional[_Union[TrainingEvent, _Mapping]] = ...) -> None: ...

class FeatureColumn(_message.Message):
    __slots__ = ("name", "dtype")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    name: str
    dtype: ColumnType
    def __init__(self, name: _Optional[str] = ..., dtype: _Optional[_Union[ColumnType, str]] = ...) -> None: ...

class Model(_message.Message):
    __slots__ = ("name", "training_job", "model_type", "category", "target_column", "feature_columns", "classes", "hyperparameters", "metrics", "device", "dataset", "dataset_sha256", "library_versions", "size_bytes", "create_time")
    class HyperparametersEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: HyperparameterValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[HyperparameterValue, _Mapping]] = ...) -> None: ...
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class LibraryVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRAINING_JOB_FIELD_NUMBER: _ClassVar[int]
    MODEL_TYPE_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    TARGET_COLUMN_FIELD_NUMBER: _ClassVar[int]
    FEATURE_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    CLASSES_FIELD_NUMBER: _ClassVar[int]
    HYPERPARAMETERS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    DATASET_FIELD_NUMBER: _ClassVar[int]
    DATASET_SHA256_FIELD_NUMBER: _ClassVar[int]
    LIBRARY_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    training_job: str
    model_type: str
    category: ModelCategory
    target_column: str
    feature_columns: _containers.RepeatedCompositeFieldContainer[FeatureColumn]
    classes: _containers.RepeatedScalarFieldContainer[str]
    hyperparameters: _containers.MessageMap[str, HyperparameterValue]
    metrics: _containers.ScalarMap[str, float]
    device: str
    dataset: str
    dataset_sha256: str
    library_versions: _containers.ScalarMap[str, str]
    size_bytes: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., training_job: _Optional[str] = ..., model_type: _Optional[str] = ..., category: _Optional[_Union[ModelCategory, str]] = ..., target_column: _Optional[str] = ..., feature_columns: _Optional[_Iterable[_Union[FeatureColumn, _Mapping]]] = ..., classes: _Optional[_Iterable[str]] = ..., hyperparameters: _Optional[_Mapping[str, HyperparameterValue]] = ..., metrics: _Optional[_Mapping[str, float]] = ..., device: _Optional[str] = ..., dataset: _Optional[str] = ..., dataset_sha256: _Optional[str] = ..., library_versions: _Optional[_Mapping[str, str]] = ..., size_bytes: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetModelResponse(_message.Message):
    __slots__ = ("model",)
    MODEL_FIELD_NUMBER: _ClassVar[int]
    model: Model
    def __init__(self, model: _Optional[_Union[Model, _Mapping]] = ...) -> None: ...

class ListModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[Model]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[Model, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteModelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class DeleteModelResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("model", "instances", "columns")
    class ColumnsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeatureValues
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeatureValues, _Mapping]] = ...) -> None: ...
    MODEL_FIELD_NUMBER: _ClassVar[int]
    INSTANCES_FIELD_NUMBER: _ClassVar[int]
    COLUMNS_FIELD_NUMBER: _ClassVar[int]
    model: str
    instances: _containers.RepeatedCompositeFieldContainer[_struct_pb2.Struct]
    columns: _containers.MessageMap[str, FeatureValues]
    def __init__(self, model: _Optional[str] = ..., instances: _Optional[_Iterable[_Union[_struct_pb2.Struct, _Mapping]]] = ..., columns: _Optional[_Mapping[str, FeatureValues]] = ...) -> None: ...

class FeatureValues(_message.Message):
    __slots__ = ("doubles", "strings")
    DOUBLES_FIELD_NUMBER: _ClassVar[int]
    STRINGS_FIELD_NUMBER: _ClassVar[int]
    doubles: DoubleValues
    strings: StringValues
    def __init__(self, doubles: _Optional[_Union[DoubleValues, _Mapping]] = ..., strings: _Optional[_Union[StringValues, _Mapping]] = ...) -> None: ...

class DoubleValues(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, values: _Optional[_Iterable[float]] = ...) -> None: ...

class StringValues(_message.Message):
    __slots__ = ("values", "missing_rows")
    VALUES_FIELD_NUMBER: _ClassVar[int]
    MISSING_ROWS_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    missing_rows: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[str]] = ..., missing_rows: _Optional[_Iterable[int]] = ...) -> None: ...

class Prediction(_message.Message):
    __slots__ = ("number", "label", "probabilities")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    LABEL_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    number: float
    label: str
    probabilities: _containers.ScalarMap[str, float]
    def __init__(self, number: _Optional[float] = ..., label: _Optional[str] = ..., probabilities: _Optional[_Mapping[str, float]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("predictions",)
    PREDICTIONS_FIELD_NUMBER: _ClassVar[int]
    predictions: _containers.RepeatedCompositeFieldContainer[Prediction]
    def __init__(self, predictions: _Optional[_Iterable[_Union[Prediction, _Mapping]]] = ...) -> None: ...
