/**
 * The one error family the MLSuite Node clients throw, chosen by status code and ErrorInfo reason.
 *
 *     MLSuiteError
 *      +-- InvalidArgumentError      INVALID_ARGUMENT (fieldViolations name the fields)
 *      +-- NotFoundError             NOT_FOUND
 *      +-- AlreadyExistsError        ALREADY_EXISTS
 *      +-- FailedPreconditionError   FAILED_PRECONDITION
 *      +-- AbortedError              ABORTED
 *      |    +-- DownloadInProgressError   reason DOWNLOAD_IN_PROGRESS (metadata.current_model names it)
 *      +-- ResourceExhaustedError    RESOURCE_EXHAUSTED
 *      +-- PermissionDeniedError     PERMISSION_DENIED
 *      +-- UnauthenticatedError      UNAUTHENTICATED
 *      +-- CancelledError            CANCELLED
 *      +-- UnavailableError          UNAVAILABLE (retry the call)
 *      +-- DeadlineExceededError     DEADLINE_EXCEEDED
 *      +-- InternalError             INTERNAL, UNKNOWN, and anything else
 *
 * The reason, its domain, the ErrorInfo metadata and the BadRequest field violations are decoded from
 * the `grpc-status-details-bin` trailer (a serialized google.rpc.Status).
 * @module
 */

import { status as Status } from '@grpc/grpc-js';

import { loadRpcStatusRoot } from './protos.js';

const STATUS_DETAILS_KEY = 'grpc-status-details-bin';
const TYPE_URL_PREFIX = 'type.googleapis.com/';

/**
 * @typedef {object} FieldViolation A request field the server rejected.
 * @property {string} field Dotted path of the field, e.g. "spec.model_type".
 * @property {string} description Why it was rejected.
 */

/**
 * @typedef {object} ErrorOptions
 * @property {number} code gRPC status code (grpc.status).
 * @property {string} [reason] Stable UPPER_SNAKE reason from google.rpc.ErrorInfo.
 * @property {string} [domain] ErrorInfo domain, e.g. "trainer.mlsuite".
 * @property {Record<string, string>} [metadata] ErrorInfo metadata.
 * @property {FieldViolation[]} [fieldViolations] BadRequest field violations.
 * @property {import('@grpc/grpc-js').Metadata} [trailers] The call's trailing metadata.
 * @property {import('@grpc/grpc-js').Metadata} [headers] The call's initial metadata (a stream's opening headers).
 * @property {unknown} [cause] The original grpc-js error.
 */

/** Base of every client error: the gRPC code plus the decoded google.rpc details. */
export class MLSuiteError extends Error {
  /**
   * @param {string} message The server's message.
   * @param {ErrorOptions} options Code and decoded details.
   */
  constructor(
    message,
    { code, reason = '', domain = '', metadata = {}, fieldViolations = [], trailers, headers, cause },
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    /** gRPC status code (grpc.status). */
    this.code = code;
    /** Name of the code, e.g. "INVALID_ARGUMENT". */
    this.codeName = Status[code] ?? 'UNKNOWN';
    /** Stable UPPER_SNAKE reason from ErrorInfo; empty when the server sent none. */
    this.reason = reason;
    /** ErrorInfo domain; empty when the server sent none. */
    this.domain = domain;
    /** ErrorInfo metadata. */
    this.metadata = Object.freeze({ ...metadata });
    /** BadRequest field violations. */
    this.fieldViolations = Object.freeze(fieldViolations.map((v) => Object.freeze({ ...v })));
    /** The call's trailing metadata, if any. */
    this.trailers = trailers;
    /**
     * The id the server logged the call under (its `x-request-id` trailer, or for a stream cut by a
     * proxy, which leaves no trailers, its opening headers): quote it when asking an operator about the
     * failure. Empty when the answer came from elsewhere (a proxy refusing the call, the channel).
     */
    this.requestId = String(trailers?.get?.('x-request-id')?.[0] ?? headers?.get?.('x-request-id')?.[0] ?? '');
  }

  /** "CODE [REASON]: message", like the Python client's str(). */
  toString() {
    const reason = this.reason ? ` [${this.reason}]` : '';
    return `${this.name}: ${this.codeName}${reason}: ${this.message}`;
  }
}

/** The request was malformed; see fieldViolations. */
export class InvalidArgumentError extends MLSuiteError {}
/** The named resource does not exist. */
export class NotFoundError extends MLSuiteError {}
/** The resource exists already. */
export class AlreadyExistsError extends MLSuiteError {}
/** The server's state does not allow this now; fix the state first. */
export class FailedPreconditionError extends MLSuiteError {}
/** A conflicting operation is in progress; retry at a higher level. */
export class AbortedError extends MLSuiteError {}
/** Another model is downloading; metadata.current_model names it. */
export class DownloadInProgressError extends AbortedError {}
/** A size cap, quota or queue bound was hit. */
export class ResourceExhaustedError extends MLSuiteError {}
/** The caller (or the server's upstream credentials) may not do this. */
export class PermissionDeniedError extends MLSuiteError {}
/** Missing or invalid credentials. */
export class UnauthenticatedError extends MLSuiteError {}
/** The call was cancelled. */
export class CancelledError extends MLSuiteError {}
/** The server (or its upstream) is unreachable; retrying may succeed. */
export class UnavailableError extends MLSuiteError {}
/** The call's deadline passed. */
export class DeadlineExceededError extends MLSuiteError {}
/** The server failed; the details are in its log. */
export class InternalError extends MLSuiteError {}

const BY_CODE = new Map([
  [Status.INVALID_ARGUMENT, InvalidArgumentError],
  [Status.NOT_FOUND, NotFoundError],
  [Status.ALREADY_EXISTS, AlreadyExistsError],
  [Status.FAILED_PRECONDITION, FailedPreconditionError],
  [Status.ABORTED, AbortedError],
  [Status.RESOURCE_EXHAUSTED, ResourceExhaustedError],
  [Status.PERMISSION_DENIED, PermissionDeniedError],
  [Status.UNAUTHENTICATED, UnauthenticatedError],
  [Status.CANCELLED, CancelledError],
  [Status.UNAVAILABLE, UnavailableError],
  [Status.DEADLINE_EXCEEDED, DeadlineExceededError],
]);

/**
 * @typedef {object} StatusDetails The google.rpc details of a failed call.
 * @property {string} reason ErrorInfo reason ("" without an ErrorInfo).
 * @property {string} domain ErrorInfo domain.
 * @property {Record<string, string>} metadata ErrorInfo metadata.
 * @property {FieldViolation[]} fieldViolations BadRequest violations.
 */

/**
 * Decodes a serialized google.rpc.Status (the `grpc-status-details-bin` trailer). Details of types
 * other than ErrorInfo and BadRequest are skipped.
 * @param {Uint8Array} bytes The trailer's value.
 * @returns {StatusDetails}
 */
export function decodeStatusDetails(bytes) {
  const root = loadRpcStatusRoot();
  const status = root.lookupType('google.rpc.Status').decode(bytes);
  /** @type {StatusDetails} */
  const details = { reason: '', domain: '', metadata: {}, fieldViolations: [] };
  for (const any of status.details) {
    const url = any.type_url;
    const typeName = url.startsWith(TYPE_URL_PREFIX) ? url.slice(TYPE_URL_PREFIX.length) : '';
    if (typeName === 'google.rpc.ErrorInfo') {
      const info = unpack(root, typeName, any.value);
      details.reason = info.reason;
      details.domain = info.domain;
      details.metadata = { ...info.metadata };
    } else if (typeName === 'google.rpc.BadRequest') {
      const badRequest = unpack(root, typeName, any.value);
      details.fieldViolations.push(
        ...badRequest.field_violations.map((v) => ({ field: v.field, description: v.description })),
      );
    }
  }
  return details;
}

/**
 * Decodes the value of a google.protobuf.Any to a plain object with defaults filled in.
 * @param {import('protobufjs').Root} root Where the type is defined.
 * @param {string} typeName Full name of the packed message type.
 * @param {Uint8Array} value The packed bytes.
 * @returns {any}
 */
function unpack(root, typeName, value) {
  const type = root.lookupType(typeName);
  return type.toObject(type.decode(value), { defaults: true });
}

/**
 * Maps a grpc-js error (a ServiceError with code, details and trailing metadata) to an MLSuiteError.
 * Anything that is not a gRPC error is returned unchanged.
 * @param {any} error What the call failed with.
 * @param {import('@grpc/grpc-js').Metadata} [headers] The call's initial metadata, where it came.
 * @returns {MLSuiteError | unknown}
 */
export function fromServiceError(error, headers) {
  if (error instanceof MLSuiteError || typeof error?.code !== 'number') {
    return error;
  }
  const trailers = error.metadata;
  const raw = trailers?.get?.(STATUS_DETAILS_KEY)?.[0];
  const details = raw ? decodeStatusDetails(raw) : { reason: '', domain: '', metadata: {}, fieldViolations: [] };
  const ErrorClass =
    error.code === Status.ABORTED && details.reason === 'DOWNLOAD_IN_PROGRESS'
      ? DownloadInProgressError
      : (BY_CODE.get(error.code) ?? InternalError);
  return new ErrorClass(error.details || error.message, { code: error.code, ...details, trailers, headers, cause: error });
}
