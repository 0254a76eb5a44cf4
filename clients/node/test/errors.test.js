// Where a client error's requestId comes from: the server's trailers, or, for a stream cut by a proxy (which
// leaves a status but no trailers), the x-request-id the server sent when the stream opened. Checked against
// an in-process grpc-js server that plays both.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { InternalError, NotFoundError, TrainerClient, loadServices } from '../src/index.js';

function withRequestId(id) {
  const metadata = new grpc.Metadata();
  metadata.set('x-request-id', id);
  return metadata;
}

describe('requestId on client errors', () => {
  let server;
  let client;

  before(async () => {
    const { trainer } = loadServices();
    server = new grpc.Server();
    server.addService(trainer.TrainerService.service, {
      // Opening headers carry the id, then the stream dies without trailers, as when a proxy resets it.
      WatchTrainingJob: (call) => {
        call.sendMetadata(withRequestId('from-headers'));
        setTimeout(() => call.emit('error', { code: grpc.status.INTERNAL, details: 'Received RST_STREAM' }), 20);
      },
      // An answer from the server itself: the id is in the trailers, and they win over the headers.
      GetTrainingJob: (call, callback) => {
        call.sendMetadata(withRequestId('from-headers'));
        callback({ code: grpc.status.NOT_FOUND, details: 'no such job', metadata: withRequestId('from-trailers') });
      },
    });
    const port = await new Promise((resolve, reject) => {
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, bound) =>
        error ? reject(error) : resolve(bound),
      );
    });
    client = new TrainerClient(`127.0.0.1:${port}`, { timeoutMs: 10_000 });
  });

  after(async () => {
    client.close();
    await new Promise((resolve) => server.tryShutdown(() => resolve()));
  });

  test('a stream cut without trailers takes the id from its opening headers', async () => {
    await assert.rejects(
      async () => {
        for await (const _event of client.watchTrainingJob('trainingJobs/a')) {
          assert.fail('the server sent no event');
        }
      },
      (error) => {
        assert.ok(error instanceof InternalError, String(error));
        assert.equal(error.requestId, 'from-headers');
        return true;
      },
    );
  });

  test('the trailers come first when the server sent them', async () => {
    await assert.rejects(client.getTrainingJob('trainingJobs/a'), (error) => {
      assert.ok(error instanceof NotFoundError, String(error));
      assert.equal(error.requestId, 'from-trailers');
      return true;
    });
  });
});
