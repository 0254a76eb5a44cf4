/**
 * What both clients share: the channel (TLS or mutual TLS, a bearer token, keepalive, the retry policy of
 * safe reads), deadlines and the mapping of failures to MLSuiteError.
 *
 * Like the Python client (mlsuite_client.channel): keepalive pings every 30 s, also with no call open (the
 * servers accept them from every 10 s), so proxies and NATs keep long streams' connections open and dead
 * ones are noticed; the service config retries only idempotent unary reads (Get*, List*, GetDownloadStatus)
 * on UNAVAILABLE, up to 4 attempts with backoff. Writes and streams are never retried by the channel, since
 * resending them could repeat a side effect or an event.
 * @module
 */

import { readFileSync } from 'node:fs';

import * as grpc from '@grpc/grpc-js';

import { fromServiceError } from './errors.js';
import { loadServices } from './protos.js';

/** Deadline of unary calls when none is configured. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** How often the client pings a connection (the servers accept every 10 s or slower, also when idle). */
export const KEEPALIVE_TIME_MS = 30_000;
/** How long an unanswered ping may take before the connection is closed. */
export const KEEPALIVE_TIMEOUT_MS = 10_000;
/** The largest response accepted; above the servers' default 16 MiB send limit. */
export const MAX_RECEIVE_MESSAGE_BYTES = 64 * 1024 * 1024;

/**
 * @typedef {string | Uint8Array} PemSource A PEM file's path, or its contents.
 */

/**
 * @typedef {object} TlsOptions TLS settings; every field is optional.
 * @property {PemSource} [ca] Roots that may sign the server's certificate (default: the system's roots).
 * @property {PemSource} [cert] Client certificate chain, for mutual TLS (with `key`).
 * @property {PemSource} [key] Private key of `cert`.
 */

/**
 * @typedef {object} ClientOptions
 * @property {boolean | TlsOptions} [tls] TLS (true: system roots); default plaintext. Files are read at once.
 * @property {string} [token] Bearer token sent as `authorization: Bearer <token>` on every call: as call
 *   credentials over TLS, as call metadata over plaintext (use that only behind a TLS-terminating local
 *   proxy or sidecar: the token is as private as the network).
 * @property {grpc.ChannelCredentials} [credentials] Channel credentials of your own, instead of `tls`.
 * @property {number} [timeoutMs] Deadline of every unary call and upload, in milliseconds (default 30 s).
 * @property {grpc.ChannelOptions} [channelOptions] Extra grpc-js channel options; they win over the defaults.
 */

/**
 * The unary Get* and List* methods of both services: reads that are safe to send again.
 * @returns {{service: string, method: string}[]} e.g. {service: "mlsuite.trainer.v1.TrainerService",
 *   method: "GetModel"}
 */
export function retriedMethods() {
  const { trainer, downloader } = loadServices();
  return [trainer.TrainerService, downloader.DownloaderService].flatMap((Service) =>
    Object.values(Service.service)
      .filter((m) => !m.requestStream && !m.responseStream)
      .map((m) => {
        const [, service, method] = m.path.split('/'); // "/mlsuite.trainer.v1.TrainerService/GetModel"
        return { service, method };
      })
      .filter(({ method }) => /^(Get|List)[A-Z]/.test(method)),
  );
}

/**
 * The gRPC service config every channel gets: the retry policy of the idempotent reads.
 * @returns {object}
 */
export function serviceConfig() {
  return {
    methodConfig: [
      {
        name: retriedMethods(),
        retryPolicy: {
          maxAttempts: 4,
          initialBackoff: '0.1s',
          maxBackoff: '2s',
          backoffMultiplier: 2,
          retryableStatusCodes: ['UNAVAILABLE'],
        },
      },
    ],
  };
}

/**
 * The channel options every client starts from: keepalive, the receive limit and the retry policy.
 * @returns {grpc.ChannelOptions}
 */
export function defaultChannelOptions() {
  return {
    'grpc.keepalive_time_ms': KEEPALIVE_TIME_MS,
    'grpc.keepalive_timeout_ms': KEEPALIVE_TIMEOUT_MS,
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
    'grpc.enable_retries': 1,
    'grpc.service_config': JSON.stringify(serviceConfig()),
  };
}

/**
 * A PEM source as a Buffer; null when absent.
 * @param {PemSource | undefined | null} source
 * @param {string} name For error messages.
 * @returns {Buffer | null}
 */
function pem(source, name) {
  if (source === undefined || source === null) return null;
  if (typeof source === 'string') return readFileSync(source);
  if (source instanceof Uint8Array) return Buffer.from(source);
  throw new TypeError(`tls.${name} must be a file path or a Buffer`);
}

/**
 * TLS channel credentials from `tls` (true or {ca, cert, key}).
 * @param {true | TlsOptions} tls
 * @returns {grpc.ChannelCredentials}
 */
function sslCredentials(tls) {
  const { ca, cert, key } = tls === true ? {} : tls;
  if ((cert === undefined || cert === null) !== (key === undefined || key === null)) {
    throw new TypeError('tls.cert and tls.key go together');
  }
  return grpc.credentials.createSsl(pem(ca, 'ca'), pem(key, 'key'), pem(cert, 'cert'));
}

/**
 * A client interceptor that sets `authorization` on every call's metadata (plaintext channels, where
 * grpc-js refuses call credentials).
 * @param {string} header "Bearer <token>".
 * @returns {grpc.Interceptor}
 */
function bearerInterceptor(header) {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        metadata.set('authorization', header);
        next(metadata, listener);
      },
    });
}

/**
 * Channel credentials and interceptors of the options: TLS (or plaintext) plus, with a token, call
 * credentials (secure channels) or an interceptor (plaintext).
 * @param {Pick<ClientOptions, 'credentials' | 'tls' | 'token'>} options
 * @returns {{credentials: grpc.ChannelCredentials, interceptors: grpc.Interceptor[]}}
 */
export function channelSecurity({ credentials, tls = false, token }) {
  tls ??= false;
  if (typeof tls !== 'boolean' && typeof tls !== 'object') {
    throw new TypeError('tls must be true, false or {ca, cert, key}');
  }
  if (credentials != null && tls !== false) throw new TypeError('pass either credentials or tls, not both');
  const channel = credentials ?? (tls ? sslCredentials(tls) : grpc.credentials.createInsecure());
  if (token === undefined || token === null) return { credentials: channel, interceptors: [] };
  // Visible ASCII only: anything else cannot travel in a header, and grpc-js's own error would quote it.
  if (typeof token !== 'string' || !/^[\x21-\x7e]+$/.test(token)) {
    throw new TypeError('the token must be a non-empty string of visible ASCII characters (no whitespace)');
  }
  const header = `Bearer ${token}`;
  if (!channel._isSecure()) return { credentials: channel, interceptors: [bearerInterceptor(header)] };
  const bearer = grpc.credentials.createFromMetadataGenerator((_params, callback) => {
    const metadata = new grpc.Metadata();
    metadata.set('authorization', header);
    callback(null, metadata);
  });
  return { credentials: grpc.credentials.combineChannelCredentials(channel, bearer), interceptors: [] };
}

/** Base of TrainerClient and DownloaderClient: owns one grpc-js client (one channel). */
export class GrpcClient {
  /**
   * @param {grpc.ServiceClientConstructor} Service The loaded service constructor.
   * @param {string} target "host:port".
   * @param {ClientOptions} options
   */
  constructor(Service, target, { credentials, tls, token, timeoutMs = DEFAULT_TIMEOUT_MS, channelOptions = {} } = {}) {
    if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) throw new RangeError('timeoutMs must be a positive number');
    const security = channelSecurity({ credentials, tls, token });
    const { interceptors = [], ...extraOptions } = channelOptions;
    /** The channel options in effect: the defaults (keepalive, retry policy) and channelOptions over them. */
    this.channelOptions = Object.freeze({ ...defaultChannelOptions(), ...extraOptions });
    /** The generated grpc-js client; an escape hatch for RPCs this class does not wrap (the token rides along). */
    this.stub = new Service(target, security.credentials, {
      ...this.channelOptions,
      interceptors: [...security.interceptors, ...interceptors],
    });
    /** Deadline of unary calls, in milliseconds. */
    this.timeoutMs = timeoutMs;
  }

  /**
   * Call options with a deadline `timeoutMs` (default: the client's) from now.
   * @param {number} [timeoutMs]
   * @returns {grpc.CallOptions}
   */
  callOptions(timeoutMs) {
    const ms = timeoutMs ?? this.timeoutMs;
    // Like the constructor's: 0, a negative number, NaN or Infinity would be a deadline already past.
    if (!(Number.isFinite(ms) && ms > 0)) throw new RangeError('timeoutMs must be a positive number');
    return { deadline: new Date(Date.now() + ms) };
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
