import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DownloadState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOWNLOAD_STATE_UNSPECIFIED: _ClassVar[DownloadState]
    DOWNLOAD_STATE_IDLE: _ClassVar[DownloadState]
    DOWNLOAD_STATE_RESOLVING: _ClassVar[DownloadState]
    DOWNLOAD_STATE_DOWNLOADING: _ClassVar[DownloadState]
    DOWNLOAD_STATE_VERIFYING: _ClassVar[DownloadState]
    DOWNLOAD_STATE_SUCCEEDED: _ClassVar[DownloadState]
    DOWNLOAD_STATE_FAILED: _ClassVar[DownloadState]
    DOWNLOAD_STATE_CANCELLED: _ClassVar[DownloadState]
DOWNLOAD_STATE_UNSPECIFIED: DownloadState
DOWNLOAD_STATE_IDLE: DownloadState
DOWNLOAD_STATE_RESOLVING: DownloadState
DOWNLOAD_STATE_DOWNLOADING: DownloadState
DOWNLOAD_STATE_VERIFYING: DownloadState
DOWNLOAD_STATE_SUCCEEDED: DownloadState
DOWNLOAD_STATE_FAILED: DownloadState
DOWNLOAD_STATE_CANCELLED: DownloadState

class DownloadStatus(_message.Message):
    __slots__ = ("is_downloading", "current_model", "progress", "status_message", "error", "state", "revision", "commit", "bytes_downloaded", "bytes_total", "files_downloaded", "files_total", "version", "start_time", "update_time", "end_time", "error_reason", "allow_patterns", "ignore_patterns")
    IS_DOWNLOADING_FIELD_NUMBER: _ClassVar[int]
    CURRENT_MODEL_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    STATUS_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    BYTES_DOWNLOADED_FIELD_NUMBER: _ClassVar[int]
    BYTES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    FILES_DOWNLOADED_FIELD_NUMBER: _ClassVar[int]
    FILES_TOTAL_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    END_TIME_FIELD_NUMBER: _ClassVar[int]
    ERROR_REASON_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    is_downloading: bool
    current_model: str
    progress: float
    status_message: str
    error: str
    state: DownloadState
    revision: str
    commit: str
    bytes_downloaded: int
    bytes_total: int
    files_downloaded: int
    files_total: int
    version: int
    start_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    end_time: _timestamp_pb2.Timestamp
    error_reason: str
    allow_patterns: _containers.RepeatedScalarFieldContainer[str]
    ignore_patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, is_downloading: _Optional[bool] = ..., current_model: _Optional[str] = ..., progress: _Optional[float] = ..., status_message: _Optional[str] = ..., error: _Optional[str] = ..., state: _Optional[_Union[DownloadState, str]] = ..., revision: _Optional[str] = ..., commit: _Optional[str] = ..., bytes_downloaded: _Optional[int] = ..., bytes_total: _Optional[int] = ..., files_downloaded: _Optional[int] = ..., files_total: _Optional[int] = ..., version: _Optional[int] = ..., start_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., end_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_reason: _Optional[str] = ..., allow_patterns: _Optional[_Iterable[str]] = ..., ignore_patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class StartDownloadRequest(_message.Message):
    __slots__ = ("model_id", "revision", "allow_patterns", "ignore_patterns", "request_id")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    ALLOW_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    IGNORE_PATTERNS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    revision: str
    allow_patterns: _containers.RepeatedScalarFieldContainer[str]
    ignore_patterns: _containers.RepeatedScalarFieldContainer[str]
    request_id: str
    def __init__(self, model_id: _Optional[str] = ..., revision: _Optional[str] = ..., allow_patterns: _Optional[_Iterable[str]] = ..., ignore_patterns: _Optional[_Iterable[str]] = ..., request_id: _Optional[str] = ...) -> None: ...

class StartDownloadResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: DownloadStatus
    def __init__(self, status: _Optional[_Union[DownloadStatus, _Mapping]] = ...) -> None: ...

class GetDownloadStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetDownloadStatusResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: DownloadStatus
    def __init__(self, status: _Optional[_Union[DownloadStatus, _Mapping]] = ...) -> None: ...

class WatchDownloadStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchDownloadStatusResponse(_message.Message):
    __slots__ = ("status", "heartbeat")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    status: DownloadStatus
    heartbeat: bool
    def __init__(self, status: _Optional[_Union[DownloadStatus, _Mapping]] = ..., heartbeat: _Optional[bool] = ...) -> None: ...

class CancelDownloadRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class CancelDownloadResponse(_message.Message):
    __slots__ = ("status",)
    STATUS_FIELD_NUMBER: _ClassVar[int]
    status: DownloadStatus
    def __init__(self, status: _Optional[_Union[DownloadStatus, _Mapping]] = ...) -> None: ...

class DownloadedModel(_message.Message):
    __slots__ = ("model_id", "revision", "commit", "files", "size_bytes", "last_modified_time", "refs")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    LAST_MODIFIED_TIME_FIELD_NUMBER: _ClassVar[int]
    REFS_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    revision: str
    commit: str
    files: _containers.RepeatedScalarFieldContainer[str]
    size_bytes: int
    last_modified_time: _timestamp_pb2.Timestamp
    refs: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, model_id: _Optional[str] = ..., revision: _Optional[str] = ..., commit: _Optional[str] = ..., files: _Optional[_Iterable[str]] = ..., size_bytes: _Optional[int] = ..., last_modified_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., refs: _Optional[_Iterable[str]] = ...) -> None: ...

class ListDownloadedModelsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDownloadedModelsResponse(_message.Message):
    __slots__ = ("models", "next_page_token")
    MODELS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    models: _containers.RepeatedCompositeFieldContainer[DownloadedModel]
    next_page_token: str
    def __init__(self, models: _Optional[_Iterable[_Union[DownloadedModel, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DeleteDownloadedModelRequest(_message.Message):
    __slots__ = ("model_id", "revision")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    revision: str
    def __init__(self, model_id: _Optional[str] = ..., revision: _Optional[str] = ...) -> None: ...

class DeleteDownloadedModelResponse(_message.Message):
    __slots__ = ("deleted_models", "freed_bytes")
    DELETED_MODELS_FIELD_NUMBER: _ClassVar[int]
    FREED_BYTES_FIELD_NUMBER: _ClassVar[int]
    deleted_models: _containers.RepeatedCompositeFieldContainer[DownloadedModel]
    freed_bytes: int
    def __init__(self, deleted_models: _Optional[_Iterable[_Union[DownloadedModel, _Mapping]]] = ..., freed_bytes: _Optional[int] = ...) -> None: ...
