/**
 * DownloaderClient: the Node face of mlsuite.downloader.v1.DownloaderService.
 * @module
 */

import { enumSuffix, requirePageSize, toDate } from './convert.js';
import { loadServices } from './protos.js';
import { ResponseStream } from './stream.js';
import { GrpcClient } from './transport.js';

/** States in which a download runs. */
export const ACTIVE_DOWNLOAD_STATES = Object.freeze(['RESOLVING', 'DOWNLOADING', 'VERIFYING']);
/** States in which the last download has ended. */
export const TERMINAL_DOWNLOAD_STATES = Object.freeze(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/**
 * @typedef {object} DownloadStatus One consistent snapshot of the downloader's status.
 * @property {string} state IDLE, RESOLVING, DOWNLOADING, VERIFYING, SUCCEEDED, FAILED or CANCELLED.
 * @property {boolean} isDownloading True exactly in RESOLVING, DOWNLOADING and VERIFYING.
 * @property {boolean} terminal True in SUCCEEDED, FAILED and CANCELLED.
 * @property {string} currentModel Hub repo id of the current (or last) download.
 * @property {string} revision Revision asked for.
 * @property {string} commit 40-hex commit it resolved to.
 * @property {number} progress Percent, 0-100.
 * @property {string} statusMessage
 * @property {string} error Readable error when FAILED.
 * @property {string} errorReason Stable UPPER_SNAKE reason when FAILED.
 * @property {number} bytesDownloaded
 * @property {number} bytesTotal
 * @property {number} filesDownloaded
 * @property {number} filesTotal
 * @property {number} version Increases with every change.
 * @property {Date | null} startTime
 * @property {Date | null} updateTime
 * @property {Date | null} endTime
 * @property {string[]} allowPatterns
 * @property {string[]} ignorePatterns
 * @property {boolean} heartbeat True when a watch repeated an unchanged status to keep the stream alive.
 */

/**
 * @typedef {object} DownloadedModel A model in the server's cache at one commit.
 * @property {string} modelId Hub repo id.
 * @property {string} revision The branch or tag it was downloaded as ("main" first), or the commit.
 * @property {string} commit 40-hex commit.
 * @property {string[]} files Relative paths of its files.
 * @property {number} sizeBytes Bytes on disk.
 * @property {Date | null} lastModified When any of its files last changed.
 * @property {string[]} refs Every branch or tag that points at the commit.
 */

/**
 * A DownloadedModel message -> a frozen value.
 * @param {any} m The message.
 * @returns {DownloadedModel}
 */
function downloadedModelFromProto(m) {
  return Object.freeze({
    modelId: m.modelId,
    revision: m.revision,
    commit: m.commit,
    files: Object.freeze([...m.files]),
    sizeBytes: m.sizeBytes,
    lastModified: toDate(m.lastModifiedTime),
    refs: Object.freeze([...m.refs]),
  });
}

/**
 * Throws a TypeError unless `value` is an array of strings (a lone string would be sent as nothing useful).
 * @param {string} name The option's name, for the message.
 * @param {unknown} value
 */
function requireStrings(name, value) {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new TypeError(`${name} must be an array of strings`);
  }
}

/**
 * A DownloadStatus message -> a frozen value.
 * @param {any} s The message.
 * @param {boolean} [heartbeat]
 * @returns {DownloadStatus}
 */
function statusFromProto(s, heartbeat = false) {
  const state = enumSuffix(s.state, 'DOWNLOAD_STATE_');
  return Object.freeze({
    state,
    isDownloading: s.isDownloading,
    terminal: TERMINAL_DOWNLOAD_STATES.includes(state),
    currentModel: s.currentModel,
    revision: s.revision,
    commit: s.commit,
    progress: s.progress,
    statusMessage: s.statusMessage,
    error: s.error,
    errorReason: s.errorReason,
    bytesDownloaded: s.bytesDownloaded,
    bytesTotal: s.bytesTotal,
    filesDownloaded: s.filesDownloaded,
    filesTotal: s.filesTotal,
    version: s.version,
    startTime: toDate(s.startTime),
    updateTime: toDate(s.updateTime),
    endTime: toDate(s.endTime),
    allowPatterns: Object.freeze([...s.allowPatterns]),
    ignorePatterns: Object.freeze([...s.ignorePatterns]),
    heartbeat,
  });
}

/** Typed client of the DownloaderService; every unary call carries a deadline of `timeoutMs`. */
export class DownloaderClient extends GrpcClient {
  /**
   * @param {string} target "host:port".
   * @param {import('./transport.js').ClientOptions} [options]
   */
  constructor(target, options = {}) {
    super(loadServices().downloader.DownloaderService, target, options);
  }

  /**
   * Resolves the revision, checks the files and starts the download in the background; returns
   * once it runs (or has already finished, when everything is cached). The same model and revision
   * joins a running download; another model is an AbortedError (DownloadInProgressError).
   * @param {string} modelId "org/name" or "name".
   * @param {object} [options]
   * @param {string} [options.revision] Branch, tag or 40-hex commit; empty means "main".
   * @param {string[]} [options.allowPatterns] Globs to fetch; empty means the safe default.
   * @param {string[]} [options.ignorePatterns] Globs to skip.
   * @param {string} [options.requestId] Idempotency key.
   * @returns {Promise<DownloadStatus>}
   */
  async startDownload(modelId, { revision = '', allowPatterns = [], ignorePatterns = [], requestId = '' } = {}) {
    requireStrings('allowPatterns', allowPatterns);
    requireStrings('ignorePatterns', ignorePatterns);
    const response = await this.unary('StartDownload', { modelId, revision, allowPatterns, ignorePatterns, requestId });
    return statusFromProto(response.status);
  }

  /**
   * A consistent snapshot of the status.
   * @returns {Promise<DownloadStatus>}
   */
  async getStatus() {
    return statusFromProto((await this.unary('GetDownloadStatus', {})).status);
  }

  /**
   * Streams the status: the current one first, then every change (coalesced: a slow reader gets the
   * newest status, never a backlog). Runs until cancel() or leaving the loop; heartbeats (the same
   * status with heartbeat = true) are skipped unless includeHeartbeats.
   * @param {{includeHeartbeats?: boolean, timeoutMs?: number}} [options]
   * @returns {ResponseStream<DownloadStatus>}
   */
  watchStatus({ includeHeartbeats = false, timeoutMs } = {}) {
    const call = this.stub.WatchDownloadStatus({}, this.streamOptions(timeoutMs));
    const convert = (message) => statusFromProto(message.status, message.heartbeat);
    return new ResponseStream(call, convert, (status) => includeHeartbeats || !status.heartbeat);
  }

  /**
   * Stops the running download, removes its partial files; resolves to the CANCELLED status.
   * A FailedPreconditionError when nothing is downloading.
   * @returns {Promise<DownloadStatus>}
   */
  async cancelDownload() {
    return statusFromProto((await this.unary('CancelDownload', {})).status);
  }

  /**
   * One page of the models in the server's cache, by model id then commit (the revision a download
   * is filling is left out until it ends).
   * @param {{pageSize?: number, pageToken?: string}} [options] pageSize 1-1000; 0 means 50.
   * @returns {Promise<{models: DownloadedModel[], nextPageToken: string}>}
   */
  async listDownloadedModels({ pageSize = 0, pageToken = '' } = {}) {
    requirePageSize(pageSize);
    const response = await this.unary('ListDownloadedModels', { pageSize, pageToken });
    return { models: response.models.map(downloadedModelFromProto), nextPageToken: response.nextPageToken };
  }

  /**
   * Every model in the cache, page after page.
   * @param {{pageSize?: number}} [options]
   * @returns {AsyncGenerator<DownloadedModel, void, undefined>}
   */
  async *allDownloadedModels({ pageSize = 0 } = {}) {
    let pageToken = '';
    do {
      const page = await this.listDownloadedModels({ pageSize, pageToken });
      yield* page.models;
      pageToken = page.nextPageToken;
    } while (pageToken);
  }

  /**
   * Removes one revision (branch, tag or commit) of a cached model or, without a revision, all of
   * them. A NotFoundError (reason NOT_CACHED) when nothing matches; an AbortedError while it downloads.
   * @param {string} modelId "org/name" or "name".
   * @param {{revision?: string}} [options]
   * @returns {Promise<{deletedModels: DownloadedModel[], freedBytes: number}>}
   */
  async deleteDownloadedModel(modelId, { revision = '' } = {}) {
    const response = await this.unary('DeleteDownloadedModel', { modelId, revision });
    return { deletedModels: response.deletedModels.map(downloadedModelFromProto), freedBytes: response.freedBytes };
  }
}
