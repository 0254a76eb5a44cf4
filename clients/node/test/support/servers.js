/**
 * Real MLSuite servers for the Node tests: `python -m trainer_service`, `python -m downloader_service`
 * and the local test Hub, each a subprocess on 127.0.0.1 port 0 with a temporary directory of its own.
 *
 * Python is MLSUITE_PYTHON or <repo>/.venv/bin/python. Every process started here is killed (and its
 * directory removed) when the test process exits, normally, by an uncaught error or by SIGINT/SIGTERM,
 * and so is every directory of makePki(); stop() ends one politely (SIGTERM, then SIGKILL) and removes
 * its directory. The Hub also exits when its standard input closes, so it cannot outlive even a
 * SIGKILLed test process.
 * @module
 */

import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

/** The repository root (this file is clients/node/test/support/servers.js). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** The Python that runs the servers. */
export const PYTHON = process.env.MLSUITE_PYTHON || path.join(REPO_ROOT, '.venv', 'bin', 'python');

const STARTUP_TIMEOUT_MS = 120_000;
const STOP_TIMEOUT_MS = 15_000;
/** Live children -> their temporary directories. */
const running = new Map();
/** Temporary directories of no process (certificates), removed at exit unless removed before. */
const ownedDirs = new Set();

function killAll() {
  for (const [child, dir] of running) {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  for (const dir of ownedDirs) rmSync(dir, { recursive: true, force: true });
}
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(128 + os.constants.signals[signal]);
  });
}

/** A Python subprocess whose stdout announced it is ready. */
export class PythonProcess {
  /**
   * @param {import('node:child_process').ChildProcess} child
   * @param {string} dir Its temporary directory (removed by stop()).
   * @param {string} logFile Where its stderr goes.
   */
  constructor(child, dir, logFile) {
    this.child = child;
    this.dir = dir;
    this.logFile = logFile;
  }

  /** The last lines of its stderr, for failure messages. */
  logTail(lines = 30) {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }

  /** SIGTERM (or closing stdin, for the Hub), wait, SIGKILL if it lingers; then remove its directory. */
  async stop() {
    const { child } = this;
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.stdin?.end();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited;
      clearTimeout(timer);
    }
    running.delete(child);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/**
 * The environment of a server: no Hub token, no telemetry, no MLSUITE_* settings of the caller's.
 * @param {string} dir The process's temporary directory.
 * @param {Record<string, string>} extra Added last.
 */
function serverEnv(dir, extra) {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !key.startsWith('MLSUITE_') &&
        !['HF_TOKEN', 'HUGGING_FACE_HUB_TOKEN', 'HF_HUB_OFFLINE', 'HF_ENDPOINT'].includes(key),
    ),
  );
  return { ...env, PYTHONUNBUFFERED: '1', HF_HOME: path.join(dir, 'hf_home'), HF_HUB_DISABLE_TELEMETRY: '1', ...extra };
}

/**
 * Starts `python <args>` in the repository root and waits for a stdout line that `ready` accepts.
 * @template T
 * @param {string} name Prefix of the temporary directory.
 * @param {(dir: string) => string[]} args Python arguments, given the temporary directory.
 * @param {(line: string) => T | undefined} ready Parses the announcing line; undefined for other lines.
 * @param {Record<string, string>} [env] Extra environment.
 * @returns {Promise<{process: PythonProcess, ready: T}>}
 */
export async function startPython(name, args, ready, env = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `mlsuite-node-${name}-`));
  const logFile = path.join(dir, 'stderr.log');
  const log = openSync(logFile, 'w');
  const child = spawn(PYTHON, args(dir), { cwd: REPO_ROOT, env: serverEnv(dir, env), stdio: ['pipe', 'pipe', log] });
  closeSync(log);
  running.set(child, dir);
  const server = new PythonProcess(child, dir, logFile);
  const lines = readline.createInterface({ input: child.stdout });
  try {
    const value = await new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within ${STARTUP_TIMEOUT_MS} ms`)),
        STARTUP_TIMEOUT_MS,
      );
      lines.on('line', (line) => {
        const parsed = ready(line);
        if (parsed !== undefined) {
          clearTimeout(timer);
          resolve(parsed);
        }
      });
      child.once('error', reject);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (${code ?? signal}) before it was ready`));
      });
    });
    return { process: server, ready: value };
  } catch (error) {
    const tail = server.logTail();
    await server.stop();
    throw new Error(`${error.message}\n--- ${name} stderr ---\n${tail}`);
  }
}

/** Parses "listening on HOST:PORT" into "127.0.0.1:PORT". */
function listeningTarget(line) {
  const match = /^listening on (\S+):(\d+)$/.exec(line.trim());
  return match ? `${match[1]}:${match[2]}` : undefined;
}

/**
 * `python -m trainer_service --port 0 --data-dir <tmp>`.
 * @param {string[]} [extraArgs]
 * @returns {Promise<{target: string, process: PythonProcess, stop: () => Promise<void>}>}
 */
export async function startTrainer(extraArgs = []) {
  const { process: server, ready: target } = await startPython(
    'trainer',
    (dir) => ['-m', 'trainer_service', '--port', '0', '--data-dir', path.join(dir, 'data'), ...extraArgs],
    listeningTarget,
  );
  return { target, process: server, stop: () => server.stop() };
}

/**
 * `python -m downloader_service --port 0 --cache-dir <tmp> --hub-endpoint <hubUrl>`.
 * @param {string} hubUrl
 * @param {string[]} [extraArgs]
 * @returns {Promise<{target: string, cacheDir: string, process: PythonProcess, stop: () => Promise<void>}>}
 */
export async function startDownloader(hubUrl, extraArgs = []) {
  let cacheDir = '';
  const { process: server, ready: target } = await startPython(
    'downloader',
    (dir) => {
      cacheDir = path.join(dir, 'cache');
      return [
        '-m',
        'downloader_service',
        '--port',
        '0',
        '--cache-dir',
        cacheDir,
        '--hub-endpoint',
        hubUrl,
        ...extraArgs,
      ];
    },
    listeningTarget,
  );
  return { target, cacheDir, process: server, stop: () => server.stop() };
}

/**
 * @typedef {object} HubRepo A repo on the test Hub.
 * @property {string} id Hub repo id.
 * @property {string} commit Commit of its main branch.
 * @property {number} bytes Bytes the downloader selects by default.
 */

/**
 * The local test Hub (tests/integration/polyglot/hub_for_node.py) with tiny real models: "tiny" and a
 * 3 MiB "padded" one that it serves throttled (about two seconds).
 * @returns {Promise<{url: string, repos: {tiny: HubRepo, padded: HubRepo}, process: PythonProcess, stop: () => Promise<void>}>}
 */
export async function startHub() {
  const { process: server, ready } = await startPython(
    'hub',
    () => ['-m', 'tests.integration.polyglot.hub_for_node'],
    (line) => (line.startsWith('{') ? JSON.parse(line) : undefined),
  );
  return { url: ready.url, repos: ready.repos, process: server, stop: () => server.stop() };
}

/**
 * @typedef {object} Pki PEM file paths of a throwaway PKI (tests/support/certs.py make_pki).
 * @property {string} ca The test CA.
 * @property {string} server_cert Server certificate the test CA signed (SANs localhost, 127.0.0.1, ::1).
 * @property {string} server_key
 * @property {string} client_cert Client certificate the test CA signed.
 * @property {string} client_key
 * @property {string} other_ca An unrelated CA that signed neither the server's nor the client's certificate.
 * @property {string} stranger_cert A client certificate other_ca signed.
 * @property {string} stranger_key
 */

/**
 * Writes a throwaway PKI into a new temporary directory
 * (`python -m tests.integration.polyglot.make_certs_for_node DIR`).
 * @returns {Promise<{files: Pki, remove: () => void}>} remove() deletes the directory (also done at exit).
 */
export async function makePki() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'mlsuite-node-pki-'));
  ownedDirs.add(dir);
  const remove = () => {
    rmSync(dir, { recursive: true, force: true });
    ownedDirs.delete(dir);
  };
  try {
    const { stdout } = await promisify(execFile)(
      PYTHON,
      ['-m', 'tests.integration.polyglot.make_certs_for_node', path.join(dir, 'pki')],
      { cwd: REPO_ROOT, env: serverEnv(dir, {}), timeout: 60_000 },
    );
    return { files: JSON.parse(stdout.trim().split('\n').at(-1)), remove };
  } catch (error) {
    remove();
    throw error;
  }
}
