/**
 * The set-up of the emulator's Python (scripts/python-env.ts) on this machine's real python3, venv and pip,
 * with the package index unreachable: pip is pointed at a closed loopback port and kept from any local
 * pip configuration (wheel folders, mirrors), so the run is the same on a machine with network. pip keeps its
 * default retries: their warnings are where pip names the connection error.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { devNull, tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../scripts/emulator';
import { PROJECT_DIR, PythonSetupError, setUpPython } from '../../scripts/python-env';

let dir: string;
beforeAll(() => { dir = mkdtempSync(join(tmpdir(), 'python-env-real-')); });
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('setting up the emulator\'s Python on this machine', () => {
  it('with PYTHON at a fresh venv without packages and the package index unreachable, ends with the network message, not a traceback, and leaves no .venv', async () => {
    const fresh = join(dir, 'fresh');
    const made = spawnSync('python3', ['-m', 'venv', '--without-pip', fresh], { encoding: 'utf8' });
    expect({ status: made.status, stderr: made.stderr }).toEqual({ status: 0, stderr: '' });
    copyFileSync(join(PROJECT_DIR, 'requirements-dev.txt'), join(dir, 'requirements-dev.txt'));
    const env: NodeJS.ProcessEnv = { ...process.env, PYTHON: join(fresh, 'bin', 'python'), PIP_CONFIG_FILE: devNull, PIP_INDEX_URL: `http://127.0.0.1:${await freePort()}/simple` /* free: nothing listens */ };
    for (const name of ['PIP_FIND_LINKS', 'PIP_EXTRA_INDEX_URL', 'PIP_NO_INDEX', 'PIP_RETRIES']) delete env[name];
    const lines: string[] = [];

    let error: unknown;
    try {
      setUpPython({ projectDir: dir, env, log: (line) => lines.push(line) });
    } catch (thrown) {
      error = thrown;
    }

    const named = `PYTHON=${join(fresh, 'bin', 'python')} (Python `;
    expect(lines).toEqual([expect.stringContaining(named)]);
    expect(lines[0]).toContain(`lacks moto[server]==5.2.* (not installed), cfn-lint==1.51.* (not installed): making ${join(dir, '.venv')} with it and installing requirements-dev.txt there`);
    expect(error).toBeInstanceOf(PythonSetupError);
    const message = (error as PythonSetupError).message;
    expect(message).toMatch(/^Could not reach the Python package index: pip said "Failed to establish a new connection: \[Errno \d+\] Connection refused" while installing moto\[server\]==5\.2\.\* and cfn-lint==1\.51\.\* into /);
    expect(message).toContain(`made with ${named}`);
    expect(message).not.toMatch(/Traceback|File "/);
    expect(existsSync(join(dir, '.venv'))).toBe(false);
  }, 180_000);
});
