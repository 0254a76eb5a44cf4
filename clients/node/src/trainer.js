/**
 * TrainerClient: the Node face of mlsuite.trainer.v1.TrainerService.
 * @module
 */

import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

import {
  datasetFromProto,
  eventFromProto,
  featureValuesToProto,
  instanceToStruct,
  jobFromProto,
  modelFromProto,
  modelTypeFromProto,
  predictionFromProto,
  categoryToProto,
  JOB_STATES,
  requirePageSize,
  specToProto,
} from './convert.js';
import { fromServiceError } from './errors.js';
import { loadServices } from './protos.js';
import { ResponseStream } from './stream.js';
import { GrpcClient } from './transport.js';

/** The largest upload chunk the service accepts (1 MiB). */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/**
 * The events of a Train or WatchTrainingJob call. Besides iterating, it remembers the job's name
 * (from the opening snapshot) and the sequence of the last stored event received: to re-attach after
 * a disconnect, call `watchTrainingJob(stream.jobName, stream.lastSequence)`. cancel() (or leaving a
 * `for await` loop) only detaches; the job keeps running.
 * @extends {ResponseStream<import('./types.js').TrainingEvent>}
 */
export class TrainingEventStream extends ResponseStream {
  /**
   * @param {import('@grpc/grpc-js').ClientReadableStream<any>} call
   * @param {number} afterSequence The sequence the watch started after.
   */
  constructor(call, afterSequence = 0) {
    super(call, (message) => eventFromProto(message.event));
    /** "trainingJobs/{id}", known from the first event on. */
    this.jobName = '';
    /** Sequence of the last stored event received (or the afterSequence the watch started from). */
    this.lastSequence = afterSequence;
  }

  /** @param {import('./types.js').TrainingEvent} event */
  onValue(event) {
    if (event.job?.name) this.jobName = event.job.name;
    if (event.stored) this.lastSequence = Math.max(this.lastSequence, event.sequence);
  }
}

/**
 * Typed client of the TrainerService. Every unary call (and the upload) carries a deadline of
 * `timeoutMs`; streams have none unless one is given.
 */
export class TrainerClient extends GrpcClient {
  /**
   * @param {string} target "host:port".
   * @param {import('./transport.js').ClientOptions} [options]
   */
  constructor(target, options = {}) {
    super(loadServices().trainer.TrainerService, target, options);
  }

  /**
   * Uploads a CSV (or Parquet) file in chunks of at most 1 MiB, after hashing it: the server checks
   * the SHA-256 against what it received.
   * @param {string} file Path of the file.
   * @param {object} [options]
   * @param {string} [options.displayName] Shown in listings; empty means "untitled".
   * @param {'csv' | 'parquet'} [options.format] Defaults to the file's suffix.
   * @param {number} [options.chunkSize] Bytes per message, 1..MAX_CHUNK_BYTES.
   * @param {string} [options.requestId] Idempotency key: a repeated upload returns the first dataset.
   * @param {(sentBytes: number, totalBytes: number) => void} [options.onProgress] Called after each chunk.
   * @param {number} [options.timeoutMs] Deadline of the whole upload (default: the client's).
   * @returns {Promise<import('./types.js').Dataset>}
   */
  async uploadDataset(
    file,
    { displayName = '', format, chunkSize = MAX_CHUNK_BYTES, requestId = '', onProgress, timeoutMs } = {},
  ) {
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > MAX_CHUNK_BYTES) {
      throw new RangeError(`chunkSize must be an integer in 1..${MAX_CHUNK_BYTES}`);
    }
    const fmt = (format ?? path.extname(file).slice(1)).toLowerCase();
    if (fmt !== 'csv' && fmt !== 'parquet') throw new RangeError('format must be "csv" or "parquet"');
    const [{ size }, sha256] = await Promise.all([stat(file), sha256Of(file)]);

    let call;
    const response = new Promise((resolve, reject) => {
      call = this.stub.UploadDataset(this.callOptions(timeoutMs), (error, value) =>
        error ? reject(fromServiceError(error)) : resolve(value),
      );
    });
    // The server may answer (e.g. reject the metadata) before every chunk is written.
    let answered = false;
    const settled = response.then(
      () => (answered = true),
      () => (answered = true),
    );
    call.write({ metadata: { displayName, format: `DATASET_FORMAT_${fmt.toUpperCase()}`, sha256, requestId } });
    let sent = 0;
    try {
      for await (const chunk of createReadStream(file, { highWaterMark: chunkSize })) {
        if (answered) break;
        if (!call.write({ chunk })) await Promise.race([once(call, 'drain'), settled]);
        sent += chunk.length;
        onProgress?.(sent, size);
      }
    } catch (error) {
      call.cancel();
      await settled;
      throw error;
    }
    call.end();
    return datasetFromProto((await response).dataset);
  }

  /**
   * One dataset.
   * @param {string} name "datasets/{id}".
   * @returns {Promise<import('./types.js').Dataset>}
   */
  async getDataset(name) {
    return datasetFromProto((await this.unary('GetDataset', { name })).dataset);
  }

  /**
   * One page of datasets, newest first.
   * @param {{pageSize?: number, pageToken?: string}} [options]
   * @returns {Promise<{datasets: import('./types.js').Dataset[], nextPageToken: string}>}
   */
  async listDatasets({ pageSize = 0, pageToken = '' } = {}) {
    requirePageSize(pageSize);
    const response = await this.unary('ListDatasets', { pageSize, pageToken });
    return { datasets: response.datasets.map(datasetFromProto), nextPageToken: response.nextPageToken };
  }

  /**
   * Deletes a dataset and its file; FailedPreconditionError while an active job uses it.
   * @param {string} name "datasets/{id}".
   * @returns {Promise<void>}
   */
  async deleteDataset(name) {
    await this.unary('DeleteDataset', { name });
  }

  /**
   * The registry: every model type, or only one category's.
   * @param {{category?: 'regression' | 'classification'}} [options]
   * @returns {Promise<import('./types.js').ModelType[]>}
   */
  async listModelTypes({ category } = {}) {
    const response = await this.unary('ListModelTypes', { category: categoryToProto(category) });
    return response.modelTypes.map(modelTypeFromProto);
  }

  /**
   * Validates a spec and starts a job; returns it at once (QUEUED or RUNNING).
   * @param {import('./types.js').TrainingJobSpec} spec
   * @param {{requestId?: string}} [options] The same requestId returns the same job.
   * @returns {Promise<import('./types.js').TrainingJob>}
   */
  async createTrainingJob(spec, { requestId = '' } = {}) {
    const response = await this.unary('CreateTrainingJob', { spec: specToProto(spec), requestId });
    return jobFromProto(response.trainingJob);
  }

  /**
   * One training job.
   * @param {string} name "trainingJobs/{id}".
   * @returns {Promise<import('./types.js').TrainingJob>}
   */
  async getTrainingJob(name) {
    return jobFromProto((await this.unary('GetTrainingJob', { name })).trainingJob);
  }

  /**
   * Asks a job to stop: QUEUED ends CANCELLED at once, RUNNING turns CANCELLING and ends CANCELLED
   * within a batch (a scikit-learn fit within about 3 s). A finished job is FailedPreconditionError.
   * @param {string} name "trainingJobs/{id}".
   * @returns {Promise<import('./types.js').TrainingJob>} The job as the cancel left it.
   */
  async cancelTrainingJob(name) {
    return jobFromProto((await this.unary('CancelTrainingJob', { name })).trainingJob);
  }

  /**
   * One page of jobs, newest first, optionally only those in one state.
   * @param {{state?: string, pageSize?: number, pageToken?: string}} [options] state e.g. "RUNNING".
   * @returns {Promise<{trainingJobs: import('./types.js').TrainingJob[], nextPageToken: string}>}
   */
  async listTrainingJobs({ state, pageSize = 0, pageToken = '' } = {}) {
    // An unknown name would be sent as the UNSPECIFIED enum, which means "every state": a typo ("faild") in a
    // cleanup script must not select every job.
    if (state !== undefined && !(typeof state === 'string' && JOB_STATES.includes(state.toUpperCase()))) {
      throw new RangeError(`state must be one of ${JOB_STATES.join(', ')} (any case), got ${String(state)}`);
    }
    requirePageSize(pageSize);
    const filter = state ? `TRAINING_JOB_STATE_${state.toUpperCase()}` : 'TRAINING_JOB_STATE_UNSPECIFIED';
    const response = await this.unary('ListTrainingJobs', { state: filter, pageSize, pageToken });
    return { trainingJobs: response.trainingJobs.map(jobFromProto), nextPageToken: response.nextPageToken };
  }

  /**
   * Creates a job and streams its events: a snapshot, then every stored event live, until the
   * terminal one. A retried Train with the same requestId re-attaches instead of training twice.
   * @param {import('./types.js').TrainingJobSpec} spec
   * @param {{requestId?: string, timeoutMs?: number}} [options] timeoutMs: a deadline for the whole stream.
   * @returns {TrainingEventStream}
   */
  train(spec, { requestId = '', timeoutMs } = {}) {
    const request = { spec: specToProto(spec), requestId };
    return new TrainingEventStream(this.stub.Train(request, this.streamOptions(timeoutMs)));
  }

  /**
   * Watches a job: a snapshot, then every stored event with sequence > afterSequence, then live
   * events until the terminal one. Pass the last sequence received to re-attach without a gap or a
   * duplicate.
   * @param {string} name "trainingJobs/{id}".
   * @param {number} [afterSequence]
   * @param {{timeoutMs?: number}} [options]
   * @returns {TrainingEventStream}
   */
  watchTrainingJob(name, afterSequence = 0, { timeoutMs } = {}) {
    const call = this.stub.WatchTrainingJob({ name, afterSequence }, this.streamOptions(timeoutMs));
    return new TrainingEventStream(call, afterSequence);
  }

  /**
   * One trained model.
   * @param {string} name "models/{id}".
   * @returns {Promise<import('./types.js').Model>}
   */
  async getModel(name) {
    return modelFromProto((await this.unary('GetModel', { name })).model);
  }

  /**
   * One page of trained models, newest first.
   * @param {{pageSize?: number, pageToken?: string}} [options]
   * @returns {Promise<{models: import('./types.js').Model[], nextPageToken: string}>}
   */
  async listModels({ pageSize = 0, pageToken = '' } = {}) {
    requirePageSize(pageSize);
    const response = await this.unary('ListModels', { pageSize, pageToken });
    return { models: response.models.map(modelFromProto), nextPageToken: response.nextPageToken };
  }

  /**
   * Deletes a model and its files.
   * @param {string} name "models/{id}".
   * @returns {Promise<void>}
   */
  async deleteModel(name) {
    await this.unary('DeleteModel', { name });
  }

  /**
   * Predicts one value per instance, in order.
   * @param {string} model "models/{id}" (or "trainingJobs/{id}" of a succeeded job).
   * @param {import('./types.js').Instance[]} instances Feature -> number, string, boolean or null.
   * @returns {Promise<import('./types.js').Prediction[]>}
   */
  async predict(model, instances) {
    const response = await this.unary('Predict', { model, instances: instances.map(instanceToStruct) });
    return response.predictions.map(predictionFromProto);
  }

  /**
   * Predicts one value per row of `columns` (feature -> its value in every row), sent column by column:
   * for many rows far cheaper than predict() to encode and to decode. Columns the model does not use are
   * ignored; null, undefined and NaN are missing values.
   * @param {string} model "models/{id}" (or "trainingJobs/{id}" of a succeeded job).
   * @param {Record<string, ArrayLike<number | string | boolean | null>>} columns Every column the same length.
   * @returns {Promise<import('./types.js').Prediction[]>}
   */
  async predictColumns(model, columns) {
    const encoded = Object.fromEntries(
      Object.entries(columns).map(([name, values]) => [name, featureValuesToProto(name, values)]),
    );
    const lengths = Object.values(encoded).map((v) => (v.doubles ?? v.strings).values.length);
    if (lengths.every((length) => length === 0)) return []; // no rows, as predict([]) gives
    const response = await this.unary('Predict', { model, columns: encoded });
    return response.predictions.map(predictionFromProto);
  }
}

/**
 * Lower-case hex SHA-256 of a file, streamed.
 * @param {string} file
 * @returns {Promise<string>}
 */
async function sha256Of(file) {
  const hash = createHash('sha256');
  for await (const block of createReadStream(file)) hash.update(block);
  return hash.digest('hex');
}
