// TrainerClient against a real `python -m trainer_service` subprocess on 127.0.0.1 port 0.

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { status } from '@grpc/grpc-js';

import {
  DeadlineExceededError,
  FailedPreconditionError,
  InvalidArgumentError,
  MLSuiteError,
  NotFoundError,
  TrainerClient,
} from '../src/index.js';
import { truth, writeRegressionCsv } from './support/data.js';
import { startTrainer } from './support/servers.js';

const ROWS = 4000;
const CHUNK = 16 * 1024;
const PHASES = ['LOADING_DATA', 'PREPROCESSING', 'FITTING', 'EVALUATING', 'SAVING'];
const FEATURES = ['x1', 'x2', 'color'];

let server;
let client;
let tmp;
let csvFile;
let csvText;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'mlsuite-node-data-'));
  csvFile = path.join(tmp, 'regression.csv');
  csvText = writeRegressionCsv(csvFile, ROWS);
  server = await startTrainer();
  client = new TrainerClient(server.target, { timeoutMs: 30_000 });
});

after(async () => {
  client?.close();
  await server?.stop();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

let uploaded;
/** The dataset every training test uses; uploaded once (the upload test checks the upload itself). */
function dataset() {
  uploaded ??= client.uploadDataset(csvFile, { displayName: 'node regression', requestId: 'node-dataset-1' });
  return uploaded;
}

/** A small network on the test CSV (epochs 10 and a batch size that sets how long it trains). */
function networkSpec(datasetName, batchSize) {
  return {
    dataset: datasetName,
    targetColumn: 'y',
    featureColumns: FEATURES,
    modelType: 'neural_network',
    hyperparameters: {
      epochs: 10,
      hidden_layers: [16, 8],
      batch_size: batchSize,
      learning_rate: 0.01,
      dropout_rate: 0,
    },
    seed: 11,
    device: 'cpu',
  };
}

/** Every event of a stream, in order. */
async function collect(stream) {
  const events = [];
  for await (const event of stream) events.push(event);
  return events;
}

const sequences = (events) => events.filter((e) => e.stored).map((e) => e.sequence);
const range = (from, to) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

let trainedModel;

test('uploadDataset streams the CSV in chunks of the given size, with its SHA-256', async () => {
  const size = statSync(csvFile).size;
  const progress = [];
  const ds = await client.uploadDataset(csvFile, {
    displayName: 'node regression',
    chunkSize: CHUNK,
    requestId: 'node-dataset-1',
    onProgress: (sent, total) => progress.push([sent, total]),
  });

  assert.equal(progress.length, Math.ceil(size / CHUNK));
  progress.forEach(([sent, total], i) => {
    assert.equal(total, size);
    assert.equal(sent, Math.min((i + 1) * CHUNK, size));
  });
  assert.match(ds.name, /^datasets\/[a-z0-9]+$/);
  assert.equal(ds.displayName, 'node regression');
  assert.equal(ds.format, 'csv');
  assert.equal(ds.rowCount, ROWS);
  assert.equal(ds.sizeBytes, size);
  assert.equal(ds.sha256, createHash('sha256').update(csvText).digest('hex'));
  assert.deepEqual(
    ds.columns.map((c) => [c.name, c.dtype, c.nullCount]),
    [
      ['x1', 'double', 0],
      ['x2', 'double', 0],
      ['color', 'string', 0],
      ['y', 'double', 0],
      ['label', 'string', 0],
    ],
  );
  assert.ok(ds.createTime instanceof Date && Math.abs(Date.now() - ds.createTime.getTime()) < 60_000);

  // The same request id (in one 1 MiB chunk this time) returns the dataset stored the first time.
  const again = await dataset();
  assert.equal(again.name, ds.name);
  await assert.rejects(client.uploadDataset(csvFile, { chunkSize: 2 * 1024 * 1024 }), RangeError);
});

test('listModelTypes returns the registry with typed hyperparameter specs', async () => {
  const types = await client.listModelTypes();
  const network = types.find((t) => t.id === 'neural_network');
  assert.ok(network, 'neural_network is listed');
  assert.equal(network.category, 'regression');
  assert.equal(network.available, true);
  assert.equal(network.gpuAccelerated, true);
  assert.equal(network.complexity, 'high');
  const param = (name) => network.parameters.find((p) => p.name === name);
  assert.deepEqual(
    { ...param('epochs'), description: '' },
    { name: 'epochs', description: '', type: 'int', default: 100, min: 10, max: 1000 },
  );
  assert.equal(param('hidden_layers').type, 'int_list');
  assert.deepEqual([...param('hidden_layers').default], [128, 64, 32]);
  assert.equal(param('learning_rate').type, 'double');
  assert.equal(param('learning_rate').default, 0.001);
  assert.deepEqual([...param('lr_schedule').choices], ['none', 'reduce_on_plateau', 'cosine']);
  assert.equal(param('early_stopping').type, 'bool');
  assert.ok(types.some((t) => t.id === 'logistic_regression' && t.category === 'classification'));

  const classifiers = await client.listModelTypes({ category: 'classification' });
  assert.ok(classifiers.length >= 2);
  assert.ok(classifiers.every((t) => t.category === 'classification'));
  assert.deepEqual(
    classifiers.map((t) => t.id),
    types.filter((t) => t.category === 'classification').map((t) => t.id),
  );
});

test('train streams the live events of a small network until its result', async () => {
  const ds = await dataset();
  const stream = client.train(networkSpec(ds.name, 32));
  const events = await collect(stream);

  const [snapshot] = events;
  assert.equal(snapshot.kind, 'snapshot');
  assert.equal(snapshot.stored, false);
  assert.match(snapshot.job.name, /^trainingJobs\/[a-z0-9]+$/);
  assert.equal(snapshot.job.spec.modelType, 'neural_network');
  assert.deepEqual(snapshot.job.spec.hyperparameters.hidden_layers, [16, 8]);
  assert.equal(stream.jobName, snapshot.job.name);

  const stored = events.filter((e) => e.stored);
  assert.deepEqual(sequences(events), range(1, stored.length), 'stored events count 1, 2, 3, ... without a gap');
  assert.deepEqual(
    events.filter((e) => e.kind === 'phaseChange').map((e) => e.phase),
    PHASES,
  );
  const epochs = events.filter((e) => e.kind === 'epochProgress').map((e) => e.epoch);
  assert.deepEqual(
    epochs.map((e) => e.epoch),
    range(1, 10),
  );
  for (const e of epochs) {
    assert.equal(e.totalEpochs, 10);
    assert.ok(Number.isFinite(e.trainLoss) && e.trainLoss >= 0);
    assert.ok(Number.isFinite(e.validationLoss));
    assert.equal(e.learningRate, 0.01);
    assert.ok(e.samplesPerSecond > 0 && e.elapsed > 0);
  }
  assert.ok(epochs[9].trainLoss < epochs[0].trainLoss, 'the loss goes down');
  assert.ok(events.slice(0, -1).every((e) => !e.terminal));

  const result = events.at(-1);
  assert.equal(result.kind, 'result');
  assert.equal(result.state, 'SUCCEEDED');
  assert.equal(result.terminal, true);
  assert.deepEqual(Object.keys(result.metrics).sort(), ['mae', 'mse', 'r2', 'rmse']);
  assert.ok(result.metrics.r2 > 0.8, `r2 ${result.metrics.r2}`);
  assert.match(result.model, /^models\/[a-z0-9]+$/);
  assert.equal(stream.lastSequence, result.sequence);

  const job = await client.getTrainingJob(stream.jobName);
  assert.equal(job.state, 'SUCCEEDED');
  assert.equal(job.model, result.model);
  assert.equal(job.lastSequence, result.sequence);
  assert.deepEqual(job.metrics, result.metrics);
  assert.equal(job.device, 'cpu');
  assert.equal(job.trainRows + job.validationRows, ROWS);
  trainedModel = result.model;
});

test('a watcher that leaves re-attaches with after_sequence: nothing lost, nothing repeated', async () => {
  const ds = await dataset();
  const spec = networkSpec(ds.name, 8); // about 0.3 s per epoch: the job outlives the first watcher
  const first = client.train(spec, { requestId: 'node-reattach-1' });
  const seen = [];
  for await (const event of first) {
    seen.push(event);
    if (event.kind === 'epochProgress' && event.epoch.epoch === 2) break; // leaving cancels the call
  }
  const name = first.jobName;
  const leftAt = first.lastSequence;
  assert.deepEqual(sequences(seen), range(1, leftAt));
  assert.equal((await client.getTrainingJob(name)).state, 'RUNNING', 'leaving the stream does not cancel the job');

  const rest = await collect(client.watchTrainingJob(name, leftAt));
  assert.equal(rest[0].kind, 'snapshot');
  assert.equal(rest[0].job.name, name);
  assert.ok(rest[0].sequence >= leftAt);
  const after = sequences(rest);
  assert.equal(after[0], leftAt + 1, 'the first event after the watcher left');
  assert.deepEqual(after, range(leftAt + 1, after.at(-1)));
  assert.equal(rest.at(-1).kind, 'result');

  const full = await collect(client.watchTrainingJob(name, 0));
  assert.deepEqual([...sequences(seen), ...after], sequences(full), 'both halves make the whole history');
  const epochsOf = (events) => events.filter((e) => e.kind === 'epochProgress').map((e) => e.epoch);
  assert.deepEqual([...epochsOf(seen), ...epochsOf(rest)], epochsOf(full));
  assert.deepEqual(
    epochsOf(full).map((e) => e.epoch),
    range(1, 10),
  );

  // Retrying Train with the same request id re-attaches to that job instead of training twice.
  const retried = await collect(client.train(spec, { requestId: 'node-reattach-1' }));
  assert.equal(retried[0].job.name, name);
  assert.deepEqual(sequences(retried), sequences(full));
});

test('predict answers with the trained network, one number per instance', async () => {
  assert.ok(trainedModel, 'the training test produced a model');
  const model = await client.getModel(trainedModel);
  assert.equal(model.modelType, 'neural_network');
  assert.equal(model.category, 'regression');
  assert.equal(model.targetColumn, 'y');
  assert.deepEqual(
    model.featureColumns.map((c) => [c.name, c.dtype]),
    [
      ['x1', 'double'],
      ['x2', 'double'],
      ['color', 'string'],
    ],
  );

  const instances = [];
  for (const x1 of [-1.5, -0.5, 0.5, 1.5]) {
    for (const color of ['red', 'green', 'blue']) instances.push({ x1, x2: 0.25, color });
  }
  const predictions = await client.predict(trainedModel, instances);
  assert.equal(predictions.length, instances.length);
  const errors = predictions.map((p, i) => {
    assert.equal(p.label, null);
    assert.equal(p.value, p.number);
    return Math.abs(p.number - truth(instances[i]));
  });
  const meanError = errors.reduce((a, b) => a + b, 0) / errors.length;
  assert.ok(meanError < 1.5, `mean absolute error ${meanError}`);
  assert.ok(predictions[9].number > predictions[0].number + 4, 'x1 1.5 predicts more than x1 -1.5');

  // A missing value (null) is imputed, not rejected.
  const [missing] = await client.predict(trainedModel, [{ x1: 1, x2: null, color: null }]);
  assert.ok(Number.isFinite(missing.number));

  // The same rows by column (plus a missing row and a column the model ignores) give the same numbers.
  const columns = {
    x1: [...instances.map((r) => r.x1), 1],
    x2: [...instances.map((r) => r.x2), null],
    color: [...instances.map((r) => r.color), null],
    unused: instances.map(() => true).concat([false]),
  };
  const byColumns = await client.predictColumns(trainedModel, columns);
  assert.equal(byColumns.length, instances.length + 1);
  const expected = [...predictions, missing].map((p) => p.number);
  byColumns.forEach((p, i) => assert.ok(Math.abs(p.number - expected[i]) <= 1e-6 * Math.abs(expected[i]), `row ${i}`));
  await assert.rejects(client.predictColumns(trainedModel, { x1: 'abc' }), TypeError); // a string is not a column
  assert.deepEqual(await client.predictColumns(trainedModel, { x1: [], x2: [] }), []); // no rows: no call
  await assert.rejects(client.predictColumns(trainedModel, { x1: [1, 2], x2: [1], color: ['a', 'b'] }), (error) => {
    assert.equal(error.reason, 'COLUMN_LENGTH_MISMATCH');
    return true;
  });
});

test('a classifier predicts labels with probabilities', async () => {
  const ds = await dataset();
  const events = await collect(
    client.train({
      dataset: ds.name,
      targetColumn: 'label',
      featureColumns: FEATURES,
      modelType: 'logistic_regression',
      seed: 1,
    }),
  );
  const result = events.at(-1);
  assert.equal(result.state, 'SUCCEEDED');
  assert.ok(result.metrics.accuracy > 0.9, `accuracy ${result.metrics.accuracy}`);
  const [high, low] = await client.predict(result.model, [
    { x1: 2, x2: -2, color: 'red' },
    { x1: -2, x2: 2, color: 'blue' },
  ]);
  assert.equal(high.label, 'high');
  assert.equal(low.label, 'low');
  assert.equal(high.number, null);
  for (const p of [high, low]) {
    assert.deepEqual(Object.keys(p.probabilities).sort(), ['high', 'low']);
    assert.ok(Math.abs(p.probabilities.high + p.probabilities.low - 1) < 1e-9);
    assert.ok(p.probabilities[p.label] > 0.9);
  }
});

test('a rejected request carries its ErrorInfo reason and BadRequest field violations', async () => {
  const ds = await dataset();
  const unknownType = { ...networkSpec(ds.name, 32), modelType: 'no_such_model', hyperparameters: {} };
  const expectUnknownType = (error) => {
    assert.ok(error instanceof InvalidArgumentError && error instanceof MLSuiteError);
    assert.equal(error.code, status.INVALID_ARGUMENT);
    assert.equal(error.codeName, 'INVALID_ARGUMENT');
    assert.equal(error.reason, 'UNKNOWN_MODEL_TYPE');
    assert.equal(error.domain, 'trainer.mlsuite');
    assert.equal(error.fieldViolations.length, 1);
    assert.equal(error.fieldViolations[0].field, 'spec.model_type');
    assert.match(error.fieldViolations[0].description, /unknown model type 'no_such_model'/);
    assert.match(String(error), /INVALID_ARGUMENT \[UNKNOWN_MODEL_TYPE\]/);
    return true;
  };
  await assert.rejects(client.createTrainingJob(unknownType), expectUnknownType);
  // The same error ends a Train stream before its first event.
  await assert.rejects(collect(client.train(unknownType)), expectUnknownType);

  await assert.rejects(
    client.createTrainingJob({ ...networkSpec(ds.name, 32), hyperparameters: { epochs: 5 } }),
    (error) => {
      assert.ok(error instanceof InvalidArgumentError);
      assert.equal(error.reason, 'HYPERPARAMETER_OUT_OF_RANGE');
      assert.deepEqual(
        error.fieldViolations.map((v) => v.field),
        ['spec.hyperparameters[epochs]'],
      );
      return true;
    },
  );
  // An upload fails the same way: a header without rows is rejected once the stream ends.
  const headerOnly = path.join(tmp, 'header-only.csv');
  writeFileSync(headerOnly, 'x1,x2,y\n');
  await assert.rejects(client.uploadDataset(headerOnly), (error) => {
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.reason, 'EMPTY_DATASET');
    assert.equal(error.domain, 'trainer.mlsuite');
    return true;
  });
  await assert.rejects(client.getModel('models/doesnotexist0'), (error) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.code, status.NOT_FOUND);
    assert.equal(error.reason, 'MODEL_NOT_FOUND');
    assert.deepEqual(error.fieldViolations, []);
    return true;
  });
});

test('every unary call has a deadline', async () => {
  // A TCP peer that accepts and never speaks HTTP/2: without a deadline the call would wait forever.
  const sockets = new Set();
  const silent = net.createServer((socket) => sockets.add(socket));
  await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const stuck = new TrainerClient(`127.0.0.1:${silent.address().port}`, { timeoutMs: 500 });
  try {
    const started = Date.now();
    await assert.rejects(stuck.listModelTypes(), (error) => {
      assert.ok(error instanceof DeadlineExceededError);
      assert.equal(error.code, status.DEADLINE_EXCEEDED);
      return true;
    });
    const waited = Date.now() - started;
    assert.ok(waited >= 450 && waited < 5000, `gave up after ${waited} ms`);
  } finally {
    stuck.close();
    for (const socket of sockets) socket.destroy();
    silent.close();
  }
});

test('datasets, jobs and models can be listed, cancelled and deleted', async () => {
  const small = path.join(tmp, 'small.csv');
  writeRegressionCsv(small, 300);
  const ds = await client.uploadDataset(small, { displayName: 'node small' });
  assert.deepEqual(await client.getDataset(ds.name), ds);
  const firstPage = await client.listDatasets({ pageSize: 1 });
  assert.equal(firstPage.datasets.length, 1);
  assert.equal(firstPage.datasets[0].name, ds.name, 'newest first');
  assert.notEqual(firstPage.nextPageToken, '', 'the regression dataset is on the next page');
  const rest = await client.listDatasets({ pageSize: 10, pageToken: firstPage.nextPageToken });
  assert.ok(rest.datasets.every((d) => d.name !== ds.name));

  // A long job on the small dataset, cancelled while it runs.
  const base = networkSpec(ds.name, 8);
  const job = await client.createTrainingJob({ ...base, hyperparameters: { ...base.hyperparameters, epochs: 1000 } });
  const events = client.watchTrainingJob(job.name);
  for await (const event of events) {
    if (event.kind === 'epochProgress') break; // it is running
  }
  const cancelling = await client.cancelTrainingJob(job.name);
  assert.ok(['CANCELLING', 'CANCELLED'].includes(cancelling.state), cancelling.state);
  const rest2 = await collect(client.watchTrainingJob(job.name));
  assert.equal(rest2.at(-1).state, 'CANCELLED');
  const cancelled = await client.listTrainingJobs({ state: 'CANCELLED' });
  assert.ok(cancelled.trainingJobs.some((j) => j.name === job.name));
  assert.ok(cancelled.trainingJobs.every((j) => j.state === 'CANCELLED'));
  // A mistyped state would be sent as UNSPECIFIED, which means every state: it is refused before sending.
  await assert.rejects(client.listTrainingJobs({ state: 'faild' }), RangeError);
  await assert.rejects(client.listTrainingJobs({ state: 5 }), RangeError);
  await assert.rejects(client.listTrainingJobs({ pageSize: 1e12 }), RangeError); // int32 would wrap
  await assert.rejects(client.createTrainingJob(undefined), /spec must be a TrainingJobSpec object/);
  const succeeded = await client.listTrainingJobs({ state: 'SUCCEEDED' });
  assert.ok(succeeded.trainingJobs.length > 0 && succeeded.trainingJobs.every((j) => j.state === 'SUCCEEDED'));
  await assert.rejects(client.cancelTrainingJob(job.name), (error) => {
    assert.ok(error instanceof FailedPreconditionError);
    assert.equal(error.reason, 'JOB_ALREADY_FINISHED');
    return true;
  });

  await client.deleteDataset(ds.name);
  await assert.rejects(client.getDataset(ds.name), (error) => error instanceof NotFoundError);

  // The network trained earlier in this file is listed, then deleted.
  assert.ok(trainedModel, 'the train test ran first');
  const { models } = await client.listModels({ pageSize: 100 });
  assert.ok(models.some((m) => m.name === trainedModel));
  await client.deleteModel(trainedModel);
  assert.ok((await client.listModels()).models.every((m) => m.name !== trainedModel));
  await assert.rejects(client.predict(trainedModel, [{ x1: 0, x2: 0, color: 'red' }]), (error) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.reason, 'MODEL_NOT_FOUND');
    return true;
  });
});
