// The channel every client gets: keepalive like the Python client's, the retry policy of idempotent reads
// (checked against an in-process grpc-js server whose every method fails UNAVAILABLE on its first
// attempt), the bearer token on plaintext channels, and the validation of the security options.

import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import {
  DownloaderClient,
  KEEPALIVE_TIME_MS,
  KEEPALIVE_TIMEOUT_MS,
  TrainerClient,
  UnavailableError,
  loadServices,
  retriedMethods,
} from '../src/index.js';

const TRAINER = 'mlsuite.trainer.v1.TrainerService';
const DOWNLOADER = 'mlsuite.downloader.v1.DownloaderService';
const UNAVAILABLE = Object.freeze({ code: grpc.status.UNAVAILABLE, details: 'warming up' });
const JOB = Object.freeze({ trainingJob: { name: 'trainingJobs/a', spec: { dataset: 'datasets/a' } } });
const STATUS = Object.freeze({ status: { state: 'DOWNLOAD_STATE_IDLE' } });

describe('channel options', () => {
  test('a per-call or stream timeoutMs that is not a positive number is a RangeError before any call', () => {
    const client = new TrainerClient('127.0.0.1:1');
    const downloader = new DownloaderClient('127.0.0.1:1');
    try {
      for (const timeoutMs of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
        assert.throws(() => client.watchTrainingJob('trainingJobs/a', 0, { timeoutMs }), RangeError);
        assert.throws(() => downloader.watchStatus({ timeoutMs }), RangeError);
        assert.throws(() => client.callOptions(timeoutMs), RangeError);
      }
      assert.ok(client.callOptions(1000).deadline instanceof Date);
      assert.deepEqual(client.streamOptions(undefined), {}); // a stream without timeoutMs has no deadline
    } finally {
      client.close();
      downloader.close();
    }
  });

  test('keepalive matches the Python client and the servers accept it', () => {
    const client = new TrainerClient('127.0.0.1:1');
    try {
      assert.equal(KEEPALIVE_TIME_MS, 30_000);
      assert.equal(KEEPALIVE_TIMEOUT_MS, 10_000);
      assert.equal(client.channelOptions['grpc.keepalive_time_ms'], 30_000, 'the servers allow pings every 10 s');
      assert.equal(client.channelOptions['grpc.keepalive_timeout_ms'], 10_000);
      assert.equal(client.channelOptions['grpc.keepalive_permit_without_calls'], 1);
      assert.equal(client.channelOptions['grpc.enable_retries'], 1);
    } finally {
      client.close();
    }
  });

  test('the service config retries exactly the unary Get*/List* methods of both services, on UNAVAILABLE', () => {
    const client = new DownloaderClient('127.0.0.1:1');
    try {
      const config = JSON.parse(client.channelOptions['grpc.service_config']);
      assert.equal(config.methodConfig.length, 1);
      const [{ name, retryPolicy }] = config.methodConfig;
      assert.deepEqual(retryPolicy, {
        maxAttempts: 4,
        initialBackoff: '0.1s',
        maxBackoff: '2s',
        backoffMultiplier: 2,
        retryableStatusCodes: ['UNAVAILABLE'],
      });
      assert.deepEqual(name, retriedMethods());
      const named = name.map((n) => `${n.service}/${n.method}`).sort();
      assert.deepEqual(named, [
        `${DOWNLOADER}/GetDownloadStatus`,
        `${DOWNLOADER}/ListDownloadedModels`,
        `${TRAINER}/GetDataset`,
        `${TRAINER}/GetModel`,
        `${TRAINER}/GetTrainingJob`,
        `${TRAINER}/ListDatasets`,
        `${TRAINER}/ListModelTypes`,
        `${TRAINER}/ListModels`,
        `${TRAINER}/ListTrainingJobs`,
      ]);
    } finally {
      client.close();
    }
  });

  test('channelOptions given to a client win over the defaults', () => {
    const client = new TrainerClient('127.0.0.1:1', { channelOptions: { 'grpc.keepalive_time_ms': 60_000 } });
    try {
      assert.equal(client.channelOptions['grpc.keepalive_time_ms'], 60_000);
      assert.equal(client.channelOptions['grpc.keepalive_permit_without_calls'], 1);
    } finally {
      client.close();
    }
  });
});

describe('security options are checked', () => {
  const cases = [
    ['a client certificate without its key', { tls: { cert: Buffer.from('pem') } }],
    ['a key without its certificate', { tls: { key: Buffer.from('pem') } }],
    ['both credentials and tls', { credentials: grpc.credentials.createInsecure(), tls: true }],
    ['tls of the wrong type', { tls: 'ca.pem' }],
    ['a PEM of the wrong type', { tls: { ca: 42 } }],
    ['an empty token', { token: '' }],
    ['a token with whitespace', { token: 'two words' }],
    ['a token that is not ASCII', { token: 'тест-SECRET' }],
    ['a token that is not a string', { token: 42 }],
  ];
  for (const [what, options] of cases) {
    test(`${what} is a TypeError`, () => {
      assert.throws(() => new TrainerClient('127.0.0.1:1', options), (error) => {
        assert.ok(error instanceof TypeError);
        assert.doesNotMatch(error.message, /SECRET|words/); // a token is never quoted back
        return true;
      });
    });
  }
});

/** A grpc-js server with both MLSuite services whose methods fail UNAVAILABLE on their first attempt. */
class FlakyServer {
  /** Attempts per method name. */
  attempts = new Map();
  /** The authorization metadata values each call carried. */
  authorization = [];

  constructor() {
    const { trainer, downloader } = loadServices();
    this.server = new grpc.Server();
    this.server.addService(trainer.TrainerService.service, {
      GetTrainingJob: this.#unary('GetTrainingJob', JOB),
      ListModelTypes: this.#unary('ListModelTypes', { modelTypes: [] }),
      CreateTrainingJob: this.#unary('CreateTrainingJob', JOB),
      Predict: this.#unary('Predict', { predictions: [] }),
      WatchTrainingJob: (call) => {
        this.#record('WatchTrainingJob', call);
        if (this.attempts.get('WatchTrainingJob') === 1) call.emit('error', UNAVAILABLE);
        else call.end();
      },
      UploadDataset: (call, callback) => {
        this.#record('UploadDataset', call);
        call.on('data', () => {});
        call.on('end', () => callback(UNAVAILABLE));
      },
    });
    this.server.addService(downloader.DownloaderService.service, {
      GetDownloadStatus: this.#unary('GetDownloadStatus', STATUS),
      CancelDownload: this.#unary('CancelDownload', STATUS),
    });
  }

  /** Binds 127.0.0.1 on a free port; returns "127.0.0.1:PORT". */
  async start() {
    const port = await new Promise((resolve, reject) => {
      this.server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
    return `127.0.0.1:${port}`;
  }

  stop() {
    return new Promise((resolve) => this.server.tryShutdown(() => resolve()));
  }

  #record(name, call) {
    this.attempts.set(name, (this.attempts.get(name) ?? 0) + 1);
    this.authorization.push(call.metadata.get('authorization'));
  }

  #unary(name, response) {
    return (call, callback) => {
      this.#record(name, call);
      if (this.attempts.get(name) === 1) callback(UNAVAILABLE);
      else callback(null, response);
    };
  }
}

describe('retries (an in-process server that fails every first attempt)', () => {
  let flaky;
  let target;
  let trainer;
  let downloader;
  let tmp;

  before(async () => {
    flaky = new FlakyServer();
    target = await flaky.start();
    trainer = new TrainerClient(target, { timeoutMs: 10_000 });
    downloader = new DownloaderClient(target, { timeoutMs: 10_000 });
    tmp = mkdtempSync(path.join(os.tmpdir(), 'mlsuite-node-retry-'));
  });

  after(async () => {
    trainer?.close();
    downloader?.close();
    await flaky?.stop();
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  test('idempotent reads are retried and succeed', async () => {
    assert.equal((await trainer.getTrainingJob('trainingJobs/a')).name, 'trainingJobs/a');
    assert.deepEqual(await trainer.listModelTypes(), []);
    assert.equal((await downloader.getStatus()).state, 'IDLE');
    for (const name of ['GetTrainingJob', 'ListModelTypes', 'GetDownloadStatus']) {
      assert.equal(flaky.attempts.get(name), 2, name);
    }
  });

  test('writes are never retried', async () => {
    await assert.rejects(trainer.createTrainingJob({ dataset: 'datasets/a', targetColumn: 'y' }), UnavailableError);
    await assert.rejects(downloader.cancelDownload(), UnavailableError);
    const csv = path.join(tmp, 'tiny.csv');
    writeFileSync(csv, 'x,y\n1,2\n');
    await assert.rejects(trainer.uploadDataset(csv), UnavailableError);
    for (const name of ['CreateTrainingJob', 'CancelDownload', 'UploadDataset']) {
      assert.equal(flaky.attempts.get(name), 1, name);
    }
  });

  test('Predict (a read, but not Get*/List*) and streams are never retried', async () => {
    await assert.rejects(trainer.predict('models/a', [{ x: 1 }]), UnavailableError);
    await assert.rejects(async () => {
      for await (const _event of trainer.watchTrainingJob('trainingJobs/a')) {
        // the first attempt fails before any event
      }
    }, UnavailableError);
    assert.equal(flaky.attempts.get('Predict'), 1);
    assert.equal(flaky.attempts.get('WatchTrainingJob'), 1);
  });

  test('over plaintext the token travels as call metadata, once per call', async () => {
    const withToken = new TrainerClient(target, { token: 'plain-token', timeoutMs: 10_000 });
    const ownCredentials = new TrainerClient(target, {
      credentials: grpc.credentials.createInsecure(),
      token: 'own-credentials-token',
      timeoutMs: 10_000,
    });
    try {
      flaky.authorization.length = 0;
      await withToken.getTrainingJob('trainingJobs/a');
      await ownCredentials.getTrainingJob('trainingJobs/a');
      await trainer.getTrainingJob('trainingJobs/a');
      assert.deepEqual(flaky.authorization, [['Bearer plain-token'], ['Bearer own-credentials-token'], []]);
    } finally {
      withToken.close();
      ownCredentials.close();
    }
  });
});
