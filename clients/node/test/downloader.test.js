// DownloaderClient against a real `python -m downloader_service` subprocess and a local test Hub.

import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { status } from '@grpc/grpc-js';

import {
  AbortedError,
  DownloadInProgressError,
  DownloaderClient,
  FailedPreconditionError,
  InvalidArgumentError,
  NotFoundError,
} from '../src/index.js';
import { startDownloader, startHub } from './support/servers.js';

let hub;
let server;
let client;

before(async () => {
  hub = await startHub();
  server = await startDownloader(hub.url, ['--heartbeat-seconds', '1']);
  client = new DownloaderClient(server.target, { timeoutMs: 30_000 });
});

after(async () => {
  client?.close();
  await server?.stop();
  await hub?.stop();
});

/** Watches until `done` accepts a status; returns every status seen (heartbeats skipped). */
async function watchUntil(done) {
  const seen = [];
  for await (const s of client.watchStatus({ timeoutMs: 60_000 })) {
    seen.push(s);
    if (done(s)) break;
  }
  return seen;
}

test('a fresh cache is IDLE', async () => {
  const s = await client.getStatus();
  assert.equal(s.state, 'IDLE');
  assert.equal(s.isDownloading, false);
  assert.equal(s.terminal, false);
  assert.equal(s.currentModel, '');
  assert.equal(s.progress, 0);
  assert.equal(s.endTime, null);
});

test('startDownload runs in the background and watchStatus follows it to SUCCEEDED at 100', async () => {
  const { tiny } = hub.repos;
  const started = await client.startDownload(tiny.id);
  assert.equal(started.currentModel, tiny.id);
  assert.equal(started.revision, 'main');
  assert.equal(started.commit, tiny.commit, 'resolved before StartDownload returns');
  assert.equal(started.bytesTotal, tiny.bytes, 'totals are known before the first byte');
  assert.ok(['DOWNLOADING', 'VERIFYING', 'SUCCEEDED'].includes(started.state), started.state);

  const seen = await watchUntil((s) => s.terminal);
  const last = seen.at(-1);
  assert.equal(last.state, 'SUCCEEDED');
  assert.equal(last.progress, 100);
  assert.equal(last.isDownloading, false);
  assert.equal(last.currentModel, tiny.id);
  assert.equal(last.commit, tiny.commit);
  assert.equal(last.bytesDownloaded, tiny.bytes);
  assert.equal(last.bytesTotal, tiny.bytes);
  assert.equal(last.filesDownloaded, last.filesTotal);
  assert.equal(last.filesTotal, 5, 'config, weights, vocab, tokenizer config, model card');
  assert.equal(last.error, '');
  assert.ok(last.endTime instanceof Date && last.endTime >= last.startTime);
  for (let i = 1; i < seen.length; i += 1) {
    assert.ok(seen[i].version > seen[i - 1].version, 'each watched status is newer');
    assert.ok(seen[i].progress >= seen[i - 1].progress, 'progress never decreases');
  }
  assert.ok(last.version > started.version);
  assert.deepEqual(await client.getStatus(), last);

  // The files are where from_pretrained(..., local_files_only=True) looks for them.
  const repoDir = path.join(server.cacheDir, `models--${tiny.id.replace('/', '--')}`);
  assert.equal(readFileSync(path.join(repoDir, 'refs', 'main'), 'utf8').trim(), tiny.commit);
  assert.ok(existsSync(path.join(repoDir, 'snapshots', tiny.commit, 'model.safetensors')));
});

test('watchStatus sends heartbeats on request, and cancel() ends the stream', async () => {
  const stream = client.watchStatus({ includeHeartbeats: true });
  const seen = [];
  for await (const s of stream) {
    seen.push(s);
    if (seen.length === 3) stream.cancel();
  }
  assert.equal(seen.length, 3, 'nothing arrives after cancel()');
  assert.equal(seen[0].heartbeat, false, 'the first message is the current status');
  assert.ok(seen.slice(1).every((s) => s.heartbeat && s.version === seen[0].version));
});

test('another model while one downloads is ABORTED with reason DOWNLOAD_IN_PROGRESS', async () => {
  const { padded, tiny } = hub.repos;
  const started = await client.startDownload(padded.id); // served throttled: about two seconds
  assert.equal(started.isDownloading, true);
  assert.equal(started.bytesTotal, padded.bytes);

  await assert.rejects(client.startDownload(tiny.id), (error) => {
    assert.ok(error instanceof DownloadInProgressError && error instanceof AbortedError);
    assert.equal(error.code, status.ABORTED);
    assert.equal(error.reason, 'DOWNLOAD_IN_PROGRESS');
    assert.equal(error.domain, 'downloader.mlsuite');
    assert.equal(error.metadata.current_model, padded.id);
    assert.equal(error.metadata.current_revision, 'main');
    return true;
  });
  // The same model and revision joins the running download instead.
  const joined = await client.startDownload(padded.id);
  assert.equal(joined.startTime.getTime(), started.startTime.getTime());

  const cancelled = await client.cancelDownload();
  assert.equal(cancelled.state, 'CANCELLED');
  assert.equal(cancelled.isDownloading, false);
  assert.equal(cancelled.currentModel, padded.id);
  assert.equal((await client.getStatus()).state, 'CANCELLED');
  await assert.rejects(client.cancelDownload(), (error) => {
    assert.ok(error instanceof FailedPreconditionError);
    assert.equal(error.reason, 'NOT_DOWNLOADING');
    assert.match(error.requestId, /^[0-9a-f]{32}$/); // the server's generated x-request-id, from the trailers
    return true;
  });
});

test('an invalid model id or revision is INVALID_ARGUMENT naming the field', async () => {
  await assert.rejects(client.startDownload('https://example.com/org/model'), (error) => {
    assert.ok(error instanceof InvalidArgumentError);
    assert.equal(error.code, status.INVALID_ARGUMENT);
    assert.equal(error.domain, 'downloader.mlsuite');
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ['model_id'],
    );
    assert.match(error.fieldViolations[0].description, /not a URL or a path/);
    return true;
  });
  await assert.rejects(client.startDownload('org/model', { revision: 'main..x' }), (error) => {
    assert.ok(error instanceof InvalidArgumentError);
    assert.deepEqual(
      error.fieldViolations.map((v) => v.field),
      ['revision'],
    );
    return true;
  });
  assert.equal((await client.getStatus()).state, 'CANCELLED', 'a rejected request changes nothing');
});

test('the cache is listed page by page and a model deleted by revision or whole', async () => {
  const { tiny } = hub.repos;
  await client.startDownload(tiny.id);
  await watchUntil((s) => s.terminal);
  const { models, nextPageToken } = await client.listDownloadedModels({ pageSize: 100 });
  assert.equal(nextPageToken, '');
  const cached = models.find((m) => m.modelId === tiny.id);
  assert.ok(cached, JSON.stringify(models.map((m) => m.modelId)));
  assert.equal(cached.commit, tiny.commit);
  assert.equal(cached.revision, 'main');
  assert.ok(cached.refs.includes('main'));
  assert.ok(cached.files.includes('model.safetensors') && cached.sizeBytes === tiny.bytes);
  assert.ok(cached.lastModified instanceof Date);
  const all = [];
  for await (const m of client.allDownloadedModels({ pageSize: 1 })) all.push(m.modelId);
  assert.deepEqual(all, models.map((m) => m.modelId));

  await assert.rejects(client.startDownload(tiny.id, { allowPatterns: '*.json' }), TypeError); // not a list
  await assert.rejects(client.listDownloadedModels({ pageSize: -1 }), RangeError);

  const deleted = await client.deleteDownloadedModel(tiny.id, { revision: 'main' });
  assert.deepEqual(deleted.deletedModels.map((m) => m.commit), [tiny.commit]);
  assert.equal(deleted.freedBytes, tiny.bytes);
  assert.ok((await client.listDownloadedModels()).models.every((m) => m.modelId !== tiny.id));
  await assert.rejects(client.deleteDownloadedModel(tiny.id), (error) => {
    assert.ok(error instanceof NotFoundError);
    assert.equal(error.reason, 'NOT_CACHED');
    return true;
  });
});
