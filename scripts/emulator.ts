/**
 * The local AWS emulator (moto server) on a free loopback port. Started with its PID recorded in
 * `.emulator/moto.pid`, stopped by that PID. By hand: `npm run emulator` (Ctrl-C stops it).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pythonTools } from './python-env';

export interface Emulator {
  endpoint: string;
  pid: number;
  stop(): Promise<void>;
}

export const STATE_DIR = join(__dirname, '..', '.emulator');
/** The Python that runs moto: PYTHON or python3 if it has requirements-dev.txt's pins, else the project's .venv (made on first use). */
export const emulatorPython = (): string => pythonTools().python;

/** The log is kept to this size across runs: past it, the next start moves it to moto.log.1 (replacing the older one). */
export const LOG_ROTATE_BYTES = 5 * 1024 * 1024;

/**
 * Opens the emulator's log for appending, rotating it first when it has grown past `limit`. Emulators
 * running at the same time share the file; one that still writes to the rotated file only fills moto.log.1.
 */
export const openLog = (dir: string, limit = LOG_ROTATE_BYTES): number => {
  const path = join(dir, 'moto.log');
  let size = 0;
  try {
    size = statSync(path).size;
  } catch {
    // no log yet
  }
  if (size > limit) renameSync(path, `${path}.1`);
  return openSync(path, 'a');
};

export const freePort = (): Promise<number> => new Promise((resolve, reject) => {
  const server = createServer();
  server.once('error', reject);
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : 0;
    server.close(() => resolve(port));
  });
});

const waitUntilAnswering = async (endpoint: string, exited: () => boolean, timeoutMs = 30_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited()) throw new Error(`moto server exited during start-up; see ${join(STATE_DIR, 'moto.log')}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/data.json`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`moto server did not answer at ${endpoint} within ${timeoutMs / 1000}s`);
};

export const startEmulator = async (): Promise<Emulator> => {
  const python = emulatorPython();
  mkdirSync(STATE_DIR, { recursive: true });
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const log = openLog(STATE_DIR);
  const child = spawn(python, [join(__dirname, 'moto-server.py'), '127.0.0.1', String(port)], { stdio: ['ignore', log, log] });
  if (child.pid === undefined) throw new Error(`could not start ${python} scripts/moto-server.py`);
  const pid = child.pid;
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => { exited = true; resolve(); }));
  const pidFile = join(STATE_DIR, `moto-${pid}.pid`);
  writeFileSync(pidFile, `${pid}\n`);
  const stop = async (): Promise<void> => {
    if (!exited) process.kill(pid, 'SIGTERM');
    await exit;
    rmSync(pidFile, { force: true });
  };
  try {
    await waitUntilAnswering(endpoint, () => exited);
  } catch (error) {
    await stop();
    throw error;
  }
  return { endpoint, pid, stop };
};

/** Environment that points the AWS SDK (and the guard) at the emulator. */
export const emulatorEnv = (endpoint: string): Record<string, string> => ({
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: process.env.AWS_REGION ?? 'us-east-1',
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
});

if (require.main === module) {
  startEmulator().then((emulator) => {
    console.log(`moto server running at ${emulator.endpoint} (pid ${emulator.pid}); Ctrl-C stops it.`);
    console.log(`Point the guard at it:\n  export AWS_ENDPOINT_URL=${emulator.endpoint} AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing`);
    const shutdown = (): void => { void emulator.stop().then(() => process.exit(0)); };
    process.on('SIGINT', shutdown);
    process.on('SIGTERM', shutdown);
  }, (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
