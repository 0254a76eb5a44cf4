// TLS, mutual TLS and bearer tokens: the Node clients against real `python -m trainer_service` and
// `python -m downloader_service` subprocesses started with --tls-cert/--tls-key/--tls-client-ca and
// --read-tokens/--write-tokens, using certificates from tests/support/certs.py.

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { DownloaderClient, MLSuiteError, TrainerClient, UnavailableError } from '../src/index.js';
import { makePki, startDownloader, startTrainer } from './support/servers.js';

const READ_TOKEN = 'reader-node-4b7e1d0a';
const WRITE_TOKEN = 'writer-node-9c2a5f3e';
const UNKNOWN_TOKEN = 'not-a-configured-token';
const TOKEN_FLAGS = ['--read-tokens', READ_TOKEN, '--write-tokens', WRITE_TOKEN];
/** The downloader's Hub is never reached by the RPCs these tests make (discard port). */
const UNREACHABLE_HUB = 'http://127.0.0.1:9';
/** Short deadlines: a refused connection must fail fast, not hang. */
const TIMEOUT_MS = 10_000;

let pki;
let tmp;
let csvFile;
/** TLS + tokens. */
let tlsTrainer;
/** Mutual TLS + tokens. */
let mtlsDownloader;
/** Plaintext + tokens (the token travels as call metadata). */
let plainTrainer;
let plainDownloader;

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'mlsuite-node-security-'));
  csvFile = path.join(tmp, 'tiny.csv');
  writeFileSync(csvFile, 'x,y\n1,2\n3,4\n5,6\n');
  pki = await makePki();
  const { server_cert: cert, server_key: key, ca } = pki.files;
  const tls = ['--tls-cert', cert, '--tls-key', key];
  const started = await Promise.allSettled([
    startTrainer([...tls, ...TOKEN_FLAGS]),
    startDownloader(UNREACHABLE_HUB, [...tls, '--tls-client-ca', ca, ...TOKEN_FLAGS]),
    startTrainer(TOKEN_FLAGS),
    startDownloader(UNREACHABLE_HUB, TOKEN_FLAGS),
  ]);
  [tlsTrainer, mtlsDownloader, plainTrainer, plainDownloader] = started.map((s) =>
    s.status === 'fulfilled' ? s.value : undefined,
  );
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  await Promise.allSettled([tlsTrainer, mtlsDownloader, plainTrainer, plainDownloader].map((s) => s?.stop()));
  pki?.remove();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

/** The client certificate the test CA signed. */
function clientIdentity() {
  return { cert: pki.files.client_cert, key: pki.files.client_key };
}

/**
 * Runs `fn` with a new client and closes it afterwards.
 * @template T
 * @param {typeof TrainerClient | typeof DownloaderClient} Client
 * @param {string} target
 * @param {import('../src/transport.js').ClientOptions} options
 * @param {(client: any) => Promise<T>} fn
 * @returns {Promise<T>}
 */
async function withClient(Client, target, options, fn) {
  const client = new Client(target, { timeoutMs: TIMEOUT_MS, ...options });
  try {
    return await fn(client);
  } finally {
    client.close();
  }
}

/** The UnavailableError a call fails with because the connection itself is refused. */
async function assertUnavailable(promise) {
  await assert.rejects(promise, (error) => {
    assert.ok(error instanceof UnavailableError, `expected UnavailableError, got ${error}`);
    assert.equal(error.code, grpc.status.UNAVAILABLE);
    return true;
  });
}

/** The first value of a stream (the stream is cancelled after it). */
async function first(stream) {
  for await (const value of stream) return value;
  throw new Error('the stream ended without a value');
}

describe('TLS', () => {
  test('a plaintext client cannot call a TLS server', async () => {
    await withClient(TrainerClient, tlsTrainer.target, { token: READ_TOKEN }, (client) =>
      assertUnavailable(client.listModelTypes()),
    );
    await withClient(DownloaderClient, mtlsDownloader.target, { token: READ_TOKEN }, (client) =>
      assertUnavailable(client.getStatus()),
    );
  });

  test('TLS with the right CA works (CA as a path, a Buffer or own credentials; by IP or host name)', async () => {
    const port = tlsTrainer.target.split(':').at(-1);
    const cases = [
      [tlsTrainer.target, { ca: pki.files.ca }],
      [tlsTrainer.target, { ca: readFileSync(pki.files.ca) }],
      [`localhost:${port}`, { ca: pki.files.ca }],
    ];
    for (const [target, tls] of cases) {
      const types = await withClient(TrainerClient, target, { tls, token: READ_TOKEN }, (c) => c.listModelTypes());
      assert.ok(types.length > 0, `${target}: the registry is not empty`);
    }
    // Channel credentials of the caller's own get the token composed onto them the same way.
    const credentials = grpc.credentials.createSsl(readFileSync(pki.files.ca));
    const types = await withClient(TrainerClient, tlsTrainer.target, { credentials, token: READ_TOKEN }, (c) =>
      c.listModelTypes(),
    );
    assert.ok(types.length > 0);
  });

  test('a client that trusts another CA cannot connect', async () => {
    await withClient(TrainerClient, tlsTrainer.target, { tls: { ca: pki.files.other_ca }, token: READ_TOKEN }, (c) =>
      assertUnavailable(c.listModelTypes()),
    );
    const tls = { ca: pki.files.other_ca, ...clientIdentity() };
    await withClient(DownloaderClient, mtlsDownloader.target, { tls, token: READ_TOKEN }, (c) =>
      assertUnavailable(c.getStatus()),
    );
  });

  test('the system roots do not trust the test CA', async () => {
    await withClient(TrainerClient, tlsTrainer.target, { tls: true, token: READ_TOKEN }, (c) =>
      assertUnavailable(c.listModelTypes()),
    );
  });

  test('mutual TLS: a client without a certificate is refused', async () => {
    await withClient(DownloaderClient, mtlsDownloader.target, { tls: { ca: pki.files.ca }, token: READ_TOKEN }, (c) =>
      assertUnavailable(c.getStatus()),
    );
  });

  test('mutual TLS: a client certificate from another CA is refused', async () => {
    const tls = { ca: pki.files.ca, cert: pki.files.stranger_cert, key: pki.files.stranger_key };
    await withClient(DownloaderClient, mtlsDownloader.target, { tls, token: READ_TOKEN }, (c) =>
      assertUnavailable(c.getStatus()),
    );
  });

  test('mutual TLS: a certificate the test CA signed works, for unary calls and streams', async () => {
    const tls = { ca: pki.files.ca, ...clientIdentity() };
    await withClient(DownloaderClient, mtlsDownloader.target, { tls, token: READ_TOKEN }, async (c) => {
      assert.equal((await c.getStatus()).state, 'IDLE');
      assert.equal((await first(c.watchStatus({ timeoutMs: TIMEOUT_MS }))).state, 'IDLE');
    });
    const buffers = { ca: readFileSync(pki.files.ca), cert: readFileSync(tls.cert), key: readFileSync(tls.key) };
    await withClient(DownloaderClient, mtlsDownloader.target, { tls: buffers, token: READ_TOKEN }, async (c) => {
      assert.equal((await c.getStatus()).state, 'IDLE');
    });
  });
});

/**
 * How a call ended: "OK", or the code name and the ErrorInfo reason of the MLSuiteError it failed with.
 * @param {() => Promise<unknown>} run
 */
async function outcome(run) {
  try {
    await run();
    return { code: 'OK', reason: '' };
  } catch (error) {
    if (!(error instanceof MLSuiteError)) throw error;
    return { code: error.codeName, reason: error.reason, metadata: { ...error.metadata } };
  }
}

const MISSING_SPEC = { dataset: 'datasets/missing', targetColumn: 'y', modelType: 'linear_regression' };

/**
 * One RPC of the matrix: its server, scope, and how it ends once authorized.
 * @typedef {{kind: 'trainer' | 'downloader', name: string, shape: string, scope: 'read' | 'write',
 *            authorized: string, call: (client: any) => Promise<unknown>}} Rpc
 */
/** @type {Rpc[]} */
const RPCS = [
  { kind: 'trainer', name: 'ListModelTypes', shape: 'unary', scope: 'read', authorized: 'OK',
    call: (c) => c.listModelTypes() },
  { kind: 'trainer', name: 'WatchTrainingJob', shape: 'server stream', scope: 'read', authorized: 'NOT_FOUND',
    call: (c) => first(c.watchTrainingJob('trainingJobs/missing', 0, { timeoutMs: TIMEOUT_MS })) },
  { kind: 'trainer', name: 'CreateTrainingJob', shape: 'unary', scope: 'write', authorized: 'NOT_FOUND',
    call: (c) => c.createTrainingJob(MISSING_SPEC) },
  { kind: 'trainer', name: 'Train', shape: 'server stream', scope: 'write', authorized: 'NOT_FOUND',
    call: (c) => first(c.train(MISSING_SPEC, { timeoutMs: TIMEOUT_MS })) },
  { kind: 'trainer', name: 'UploadDataset', shape: 'client stream', scope: 'write', authorized: 'OK',
    call: (c) => c.uploadDataset(csvFile, { displayName: 'token test' }) },
  { kind: 'downloader', name: 'GetDownloadStatus', shape: 'unary', scope: 'read', authorized: 'OK',
    call: (c) => c.getStatus() },
  { kind: 'downloader', name: 'WatchDownloadStatus', shape: 'server stream', scope: 'read', authorized: 'OK',
    call: (c) => first(c.watchStatus({ timeoutMs: TIMEOUT_MS })) },
  { kind: 'downloader', name: 'CancelDownload', shape: 'unary', scope: 'write', authorized: 'FAILED_PRECONDITION',
    call: (c) => c.cancelDownload() },
];

/** Token cases: what the client sends. */
const TOKEN_CASES = { none: undefined, unknown: UNKNOWN_TOKEN, read: READ_TOKEN, write: WRITE_TOKEN };

/** @param {Rpc} rpc @param {keyof TOKEN_CASES} tokenCase */
function expected(rpc, tokenCase) {
  if (tokenCase === 'none') return { code: 'UNAUTHENTICATED', reason: 'MISSING_TOKEN' };
  if (tokenCase === 'unknown') return { code: 'UNAUTHENTICATED', reason: 'INVALID_TOKEN' };
  if (tokenCase === 'read' && rpc.scope === 'write') {
    return { code: 'PERMISSION_DENIED', reason: 'INSUFFICIENT_SCOPE', metadata: { required_scope: 'write' } };
  }
  return { code: rpc.authorized };
}

/** Where each transport's servers are and the client options that reach them. */
const TRANSPORTS = {
  'TLS (token as call credentials)': {
    trainer: () => [tlsTrainer.target, { tls: { ca: pki.files.ca } }],
    downloader: () => [mtlsDownloader.target, { tls: { ca: pki.files.ca, ...clientIdentity() } }],
  },
  'plaintext (token as call metadata)': {
    trainer: () => [plainTrainer.target, {}],
    downloader: () => [plainDownloader.target, {}],
  },
};

describe('bearer tokens', () => {
  test('the matrix covers unary and streaming RPCs, read and write, of both servers', () => {
    const shapes = new Set(RPCS.map((r) => `${r.kind} ${r.shape} ${r.scope}`));
    for (const shape of [
      'trainer unary read',
      'trainer unary write',
      'trainer server stream read',
      'trainer server stream write',
      'trainer client stream write',
      'downloader unary read',
      'downloader unary write',
      'downloader server stream read',
    ]) {
      assert.ok(shapes.has(shape), shape);
    }
  });

  for (const [transport, targets] of Object.entries(TRANSPORTS)) {
    for (const rpc of RPCS) {
      test(`${transport}: ${rpc.kind} ${rpc.name} (${rpc.shape}, ${rpc.scope})`, async () => {
        const Client = rpc.kind === 'trainer' ? TrainerClient : DownloaderClient;
        const [target, options] = targets[rpc.kind]();
        for (const [tokenCase, token] of Object.entries(TOKEN_CASES)) {
          const got = await withClient(Client, target, { ...options, token }, (c) => outcome(() => rpc.call(c)));
          const want = expected(rpc, tokenCase);
          assert.equal(got.code, want.code, `token ${tokenCase}: ${JSON.stringify(got)}`);
          if (want.reason) assert.equal(got.reason, want.reason, `token ${tokenCase}`);
          if (want.metadata) assert.deepEqual(got.metadata, want.metadata, `token ${tokenCase}`);
        }
      });
    }
  }

  test('the token also rides on calls made through client.stub', async () => {
    const listDatasets = (client) =>
      new Promise((resolve, reject) => {
        client.stub.ListDatasets({}, client.callOptions(), (error, response) =>
          error ? reject(error) : resolve(response),
        );
      });
    for (const targets of Object.values(TRANSPORTS)) {
      const [target, options] = targets.trainer();
      const response = await withClient(TrainerClient, target, { ...options, token: READ_TOKEN }, listDatasets);
      assert.ok(Array.isArray(response.datasets));
      await withClient(TrainerClient, target, options, (c) =>
        assert.rejects(listDatasets(c), (error) => error.code === grpc.status.UNAUTHENTICATED),
      );
    }
  });
});
