/**
 * What both clients share: the channel, deadlines and the mapping of failures to MLSuiteError.
 * @module
 */

import * as grpc from '@grpc/grpc-js';

import { fromServiceError } from './errors.js';

/** Deadline of unary calls when none is configured. */
export const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * @typedef {object} ClientOptions
 * @property {grpc.ChannelCredentials} [credentials] Default: plaintext (grpc.credentials.createInsecure()).
 * @property {number} [timeoutMs] Deadline of every unary call and upload, in milliseconds (default 30 s).
 * @property {grpc.ChannelOptions} [channelOptions] Extra grpc-js channel options.
 */

/** Base of TrainerClient and DownloaderClient: owns one grpc-js client (one channel). */
export class GrpcClient {
  /**
   * @param {grpc.ServiceClientConstructor} Service The loaded service constructor.
   * @param {string} target "host:port".
   * @param {ClientOptions} options
   */
  constructor(Service, target, { credentials, timeoutMs = DEFAULT_TIMEOUT_MS, channelOptions = {} } = {}) {
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError('timeoutMs must be a positive number');
    /** The generated grpc-js client; an escape hatch for RPCs this class does not wrap. */
    this.stub = new Service(target, credentials ?? grpc.credentials.createInsecure(), channelOptions);
    /** Deadline of unary calls, in milliseconds. */
    this.timeoutMs = timeoutMs;
  }

  /**
   * Call options with a deadline `timeoutMs` (default: the client's) from now.
   * @param {number} [timeoutMs]
   * @returns {grpc.CallOptions}
   */
  callOptions(timeoutMs) {
    return { deadline: new Date(Date.now() + (timeoutMs ?? this.timeoutMs)) };
  }

  /**
   * Call options of a long-lived stream: a deadline only when one is given.
   * @param {number} [timeoutMs]
   * @returns {grpc.CallOptions}
   */
  streamOptions(timeoutMs) {
    return timeoutMs === undefined ? {} : this.callOptions(timeoutMs);
  }

  /**
   * Runs a unary RPC with the client's deadline; failures become MLSuiteError.
   * @param {string} method RPC name, e.g. "GetModel".
   * @param {object} request The request message as a plain object.
   * @param {number} [timeoutMs]
   * @returns {Promise<any>} The response message.
   */
  unary(method, request, timeoutMs) {
    return new Promise((resolve, reject) => {
      this.stub[method](request, this.callOptions(timeoutMs), (error, response) =>
        error ? reject(fromServiceError(error)) : resolve(response),
      );
    });
  }

  /** Closes the channel: no new calls start; calls in flight run to their end. */
  close() {
    this.stub.close();
  }
}
