/**
 * Node.js clients of MLSuite's TrainerService and DownloaderService. They load the repository's
 * protos/ at run time and hide gRPC behind promises, async iterators and plain values.
 * @module @mlsuite/client
 */

export { TrainerClient, TrainingEventStream, MAX_CHUNK_BYTES } from './trainer.js';
export { DownloaderClient, ACTIVE_DOWNLOAD_STATES, TERMINAL_DOWNLOAD_STATES } from './downloader.js';
export { TERMINAL_STATES } from './convert.js';
export { ResponseStream } from './stream.js';
export {
  DEFAULT_TIMEOUT_MS,
  KEEPALIVE_TIME_MS,
  KEEPALIVE_TIMEOUT_MS,
  MAX_RECEIVE_MESSAGE_BYTES,
  channelSecurity,
  defaultChannelOptions,
  retriedMethods,
  serviceConfig,
} from './transport.js';
export {
  MLSuiteError,
  InvalidArgumentError,
  NotFoundError,
  AlreadyExistsError,
  FailedPreconditionError,
  AbortedError,
  DownloadInProgressError,
  ResourceExhaustedError,
  PermissionDeniedError,
  UnauthenticatedError,
  CancelledError,
  UnavailableError,
  DeadlineExceededError,
  InternalError,
  decodeStatusDetails,
  fromServiceError,
} from './errors.js';
export { PROTO_ROOT, loadServices } from './protos.js';
