/**
 * Loads the repository's own .proto files at run time (no copies, no generated code).
 *
 * The service protos come from `<repo>/protos` (../../protos from this package); their google.protobuf
 * imports (Timestamp, Duration, Struct) resolve to the well-known types protobufjs bundles. The
 * google.rpc Status and error-detail messages, which protobufjs does not bundle, come from the pinned
 * `google-proto-files` package and are only used to decode the `grpc-status-details-bin` trailer.
 * @module
 */

import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const require = createRequire(import.meta.url);

/** Absolute path of the repository's protos/ directory. */
export const PROTO_ROOT = fileURLToPath(new URL('../../../protos/', import.meta.url));

/** The service files, relative to PROTO_ROOT. */
export const SERVICE_PROTOS = Object.freeze([
  'mlsuite/trainer/v1/trainer_service.proto',
  'mlsuite/downloader/v1/downloader_service.proto',
]);

/**
 * How proto-loader maps messages to JS: camelCase fields, int64 as numbers (every count, size and
 * sequence here is far below 2^53), enums by name, unset fields filled with defaults, and a virtual
 * field per oneof naming the set member.
 */
export const LOADER_OPTIONS = Object.freeze({
  keepCase: false,
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
  includeDirs: [PROTO_ROOT],
});

let services = null;

/**
 * The generated-at-run-time service constructors of both packages.
 * @returns {{trainer: any, downloader: any}} `trainer.TrainerService`, `downloader.DownloaderService`
 */
export function loadServices() {
  if (services === null) {
    const definition = protoLoader.loadSync([...SERVICE_PROTOS], { ...LOADER_OPTIONS });
    const root = grpc.loadPackageDefinition(definition);
    services = Object.freeze({
      trainer: root.mlsuite.trainer.v1,
      downloader: root.mlsuite.downloader.v1,
    });
  }
  return services;
}

let rpcRoot = null;

/**
 * A protobufjs root holding google.rpc.Status and the google.rpc error details.
 * @returns {protobuf.Root}
 */
export function loadRpcStatusRoot() {
  if (rpcRoot === null) {
    const googleProtos = path.dirname(require.resolve('google-proto-files/package.json'));
    rpcRoot = new protobuf.Root();
    rpcRoot.loadSync(
      [path.join(googleProtos, 'google/rpc/status.proto'), path.join(googleProtos, 'google/rpc/error_details.proto')],
      { keepCase: true }, // field names as in the .proto, like the bundled google.protobuf.Any's "type_url"
    );
    rpcRoot.resolveAll();
  }
  return rpcRoot;
}
