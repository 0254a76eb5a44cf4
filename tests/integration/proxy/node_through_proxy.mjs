/**
 * The Node client (clients/node) through the nginx gRPC proxy, driven by tests/integration/proxy.
 *
 *   node node_through_proxy.mjs tour PROXY CSV
 *     unary calls, a chunked upload, the Train stream (detached and re-attached with afterSequence),
 *     Predict, and error details, on both services.
 *   node node_through_proxy.mjs cut PROXY DATASET TREES
 *     a gradient-boosting job queued behind a long network, watched through a proxy that cuts idle
 *     streams: re-attach after every cut with the last stored sequence until the terminal event.
 *
 * Prints one JSON object on stdout; any uncaught error exits 1 with its message on stderr.
 */

import { DownloaderClient, MLSuiteError, TrainerClient } from '../../../clients/node/src/index.js';

const [mode, proxy, ...rest] = process.argv.slice(2);

/** Error fields the test compares. */
function describe(error) {
  if (!(error instanceof MLSuiteError)) throw error;
  return { code: error.codeName, reason: error.reason, fields: error.fieldViolations.map((v) => v.field) };
}

async function expectError(promise) {
  try {
    await promise;
  } catch (error) {
    return describe(error);
  }
  throw new Error('the call succeeded but should have failed');
}

async function tour(csv) {
  const trainer = new TrainerClient(proxy);
  const downloader = new DownloaderClient(proxy);
  try {
    const modelTypes = (await trainer.listModelTypes()).map((t) => t.id);
    const status = await downloader.getStatus();
    const dataset = await trainer.uploadDataset(csv, { displayName: 'node-through-proxy', chunkSize: 4096 });

    const spec = {
      dataset: dataset.name,
      targetColumn: 'y',
      modelType: 'neural_network',
      hyperparameters: { epochs: 10, hidden_layers: [16], learning_rate: 0.01 },
      seed: 2,
    };
    // Leave the Train stream after three stored events, then re-attach where it stopped.
    const first = trainer.train(spec);
    const events = [];
    for await (const event of first) {
      if (event.stored) events.push(event);
      if (events.length === 3) break;
    }
    const resumed = trainer.watchTrainingJob(first.jobName, first.lastSequence);
    for await (const event of resumed) if (event.stored) events.push(event);

    const last = events.at(-1);
    const model = events.find((e) => e.kind === 'result')?.model ?? '';
    const instance = { x1: 0.1, x2: -0.2, x3: 0.3, x4: 1.0, color: 'red' };
    const predictions = await trainer.predict(model, [instance, { ...instance, color: 'blue' }]);
    return {
      modelTypes,
      downloaderState: status.state,
      dataset: { rowCount: dataset.rowCount, sha256: dataset.sha256, sizeBytes: dataset.sizeBytes },
      sequences: events.map((e) => e.sequence),
      detachedAt: first.lastSequence,
      lastState: last.state,
      lastTerminal: last.terminal,
      predictions: predictions.map((p) => p.number),
      errors: {
        missingJob: await expectError(trainer.getTrainingJob('trainingJobs/0123456789abcdef')),
        badInstance: await expectError(trainer.predict(model, [{ x1: 'not a number' }])),
        idleCancel: await expectError(downloader.cancelDownload()),
      },
    };
  } finally {
    trainer.close();
    downloader.close();
  }
}

async function cut(dataset, trees) {
  const trainer = new TrainerClient(proxy);
  try {
    const blocker = await trainer.createTrainingJob({
      dataset, targetColumn: 'y', modelType: 'neural_network', hyperparameters: { epochs: 1000, batch_size: 8 },
    });
    const job = await trainer.createTrainingJob({
      dataset, targetColumn: 'y', modelType: 'gradient_boosting_regressor',
      hyperparameters: { n_estimators: Number(trees) },
    });
    const queued = job.state;
    const events = [];
    const cuts = [];
    let heartbeats = 0;
    let after = 0;
    const deadline = Date.now() + 90_000;
    while (!events.at(-1)?.terminal) {
      if (Date.now() > deadline) throw new Error(`no terminal event after 90 s, ${cuts.length} cuts`);
      const stream = trainer.watchTrainingJob(job.name, after);
      let lastMessage = Date.now();
      try {
        for await (const event of stream) {
          lastMessage = Date.now();
          if (event.kind === 'heartbeat') heartbeats += 1;
          if (event.stored) events.push(event);
        }
      } catch (error) {
        cuts.push({ storedBefore: events.length, silenceS: (Date.now() - lastMessage) / 1000, ...describe(error) });
        if ((await trainer.getTrainingJob(blocker.name)).state === 'RUNNING') {
          await trainer.unary('CancelTrainingJob', { name: blocker.name });
        }
      }
      after = stream.lastSequence;
    }
    return {
      queued,
      sequences: events.map((e) => e.sequence),
      lastState: events.at(-1).state,
      hasResult: events.some((e) => e.kind === 'result' && e.model),
      lastSequence: (await trainer.getTrainingJob(job.name)).lastSequence,
      heartbeats,
      cuts,
    };
  } finally {
    trainer.close();
  }
}

const modes = { tour, cut };
if (!(mode in modes) || !proxy) {
  process.stderr.write('usage: node node_through_proxy.mjs tour PROXY CSV | cut PROXY DATASET TREES\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify(await modes[mode](...rest))}\n`);
