/**
 * The set-up of the emulator's Python (scripts/python-env.ts), against a fake interpreter on PATH: a shell
 * script that answers the probe, makes venvs (copying itself in as their python) and plays pip, as each
 * test's FAKE_* variables say. Every run is logged to FAKE_CALLS, so a test sees which branch was taken.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parsePins, PythonSetupError, type PythonTools, setUpPython, versionMatches } from '../../scripts/python-env';

const FAKE_PYTHON = `#!/bin/sh
echo "$0 $*" >> "$FAKE_CALLS"
here=$(dirname "$0")
if [ "$1" = "-m" ] && [ "$2" = "venv" ]; then
  [ "$FAKE_VENV" = no-module ] && { echo "$0: No module named venv" >&2; exit 1; }
  mkdir -p "$3/bin"
  [ "$FAKE_VENV" = no-ensurepip ] && { printf '%s\\n' "$DEBIAN_VENV_TEXT"; exit 1; }
  cp "$0" "$3/bin/python"
  exit 0
fi
if [ "$1" = "-m" ] && [ "$2" = "pip" ]; then
  printf '%s\\n' "$FAKE_PIP_OUTPUT" >&2
  [ "\${FAKE_PIP_STATUS:-0}" = 0 ] && touch "$here/installed"
  exit "\${FAKE_PIP_STATUS:-0}"
fi
case "$1" in
  *python-probe.py)
    [ -n "$FAKE_PROBE_STDERR" ] && printf '%s\\n' "$FAKE_PROBE_STDERR" >&2
    if [ -e "$here/installed" ]; then printf '%s\\n' "$FAKE_PROBE_INSTALLED"; else printf '%s\\n' "$FAKE_PROBE"; fi
    exit "\${FAKE_PROBE_STATUS:-0}" ;;
  *) echo "fake python: unexpected $*" >&2; exit 2 ;;
esac
`;

// What Debian's python3 says when python3-venv is not installed (it has made the directory by then).
const DEBIAN_VENV_TEXT = `The virtual environment was not created successfully because ensurepip is not
available.  On Debian/Ubuntu systems, you need to install the python3-venv
package using the following command.

    apt install python3.11-venv

You may need to use sudo with that command.  After installing the python3-venv
package, recreate your virtual environment.`;

// pip 23 on this machine, whose network reaches no package index (DNS fails); trimmed to one retry.
const PIP_NO_DNS = `Looking in indexes: https://pypi.org/simple
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPSConnection object at 0x7fec290bd790>: Failed to establish a new connection: [Errno -2] Name or service not known')': /simple/moto/
ERROR: Could not find a version that satisfies the requirement moto[server]==5.2.* (from versions: none)
ERROR: No matching distribution found for moto[server]==5.2.*`;

const PIP_DISK_FULL = `Collecting moto[server]==5.2.*
  Downloading moto-5.2.1-py3-none-any.whl (5.3 MB)
ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device`;

const REQUIREMENTS = '# the emulator\nmoto[server]==5.2.*\ncfn-lint==1.51.*\n';

interface Packages { moto?: string; 'cfn-lint'?: string; motoMissing?: string[] }

const answer = (executable: string, { moto, 'cfn-lint': cfnLint, motoMissing = [] }: Packages, version = [3, 11, 7]): string => JSON.stringify({
  executable,
  version,
  packages: { moto: { version: moto ?? null, missing: moto ? motoMissing : [] }, 'cfn-lint': { version: cfnLint ?? null, missing: [] } },
});
const PINNED: Packages = { moto: '5.2.1', 'cfn-lint': '1.51.0' };

interface Scenario {
  probe?: Packages;
  pythonVersion?: number[];
  installed?: Packages;
  venv?: 'ok' | 'no-ensurepip' | 'no-module';
  pipOutput?: string;
  pipStatus?: number;
}

let root: string;
beforeEach(() => { root = mkdtempSync(join(tmpdir(), 'python-env-test-')); });
afterEach(() => rmSync(root, { recursive: true, force: true }));

/** A project with requirements-dev.txt, a bin/ holding the fake python3, and what each run printed and ran. */
const machine = (scenario: Scenario = {}) => {
  const project = join(root, 'project');
  const bin = join(root, 'bin');
  mkdirSync(project);
  mkdirSync(bin);
  writeFileSync(join(project, 'requirements-dev.txt'), REQUIREMENTS);
  const python3 = join(bin, 'python3');
  writeFileSync(python3, FAKE_PYTHON);
  chmodSync(python3, 0o755);
  const callsFile = join(root, 'calls');
  writeFileSync(callsFile, '');
  const lines: string[] = [];
  const env: NodeJS.ProcessEnv = {
    PATH: `${bin}:/usr/bin:/bin`,
    FAKE_CALLS: callsFile,
    FAKE_PROBE: answer(python3, scenario.probe ?? {}, scenario.pythonVersion),
    FAKE_PROBE_INSTALLED: answer(join(project, '.venv', 'bin', 'python'), scenario.installed ?? PINNED),
    FAKE_VENV: scenario.venv ?? 'ok',
    FAKE_PIP_OUTPUT: scenario.pipOutput ?? 'Successfully installed moto-5.2.1 cfn-lint-1.51.0',
    FAKE_PIP_STATUS: String(scenario.pipStatus ?? 0),
    DEBIAN_VENV_TEXT,
  };
  return {
    project,
    bin,
    env,
    /** A second fake interpreter beside python3, for PYTHON to name. */
    anotherPython: (name: string): string => {
      copyFileSync(python3, join(bin, name));
      return join(bin, name);
    },
    lines,
    venv: join(project, '.venv'),
    setUp: (extraEnv: NodeJS.ProcessEnv = {}): PythonTools => setUpPython({ projectDir: project, env: { ...env, ...extraEnv }, log: (line) => lines.push(line) }),
    /** The runs since the last call, as `<program> <first args>` with the machine's paths shortened. */
    calls: (): string[] => {
      const text = readFileSync(callsFile, 'utf8');
      writeFileSync(callsFile, '');
      return text.split('\n').filter(Boolean).map((line) => line.replaceAll(project, '<project>').replaceAll(bin, '<bin>').replace(/ \S*python-probe\.py.*/, ' <probe>').replace(/ -r .*/, ' -r …'));
    },
  };
};

const thrown = (act: () => unknown): PythonSetupError => {
  try {
    act();
  } catch (error) {
    if (error instanceof PythonSetupError) return error;
    throw error;
  }
  throw new Error('expected a PythonSetupError');
};

describe('requirements-dev.txt pins', () => {
  it('reads name, extras and version of each pin, skipping comments', () => {
    expect(parsePins(REQUIREMENTS)).toEqual([
      { requirement: 'moto[server]==5.2.*', name: 'moto', extras: ['server'], version: '5.2.*' },
      { requirement: 'cfn-lint==1.51.*', name: 'cfn-lint', extras: [], version: '1.51.*' },
    ]);
  });

  it('refuses a line that is not an == pin, naming it', () => {
    expect(() => parsePins('moto>=5\n')).toThrow('requirements-dev.txt: "moto>=5" is not a pin');
  });

  it.each([
    ['5.2.1', '5.2.*', true], ['5.2', '5.2.*', true], ['5.20.0', '5.2.*', false], ['5.1.9', '5.2.*', false],
    ['1.51.0', '1.51.0', true], ['1.51.1', '1.51.0', false],
  ])('version %s against ==%s: %s', (installed, pinned, matches) => {
    expect(versionMatches(installed, pinned)).toBe(matches);
  });
});

describe('a Python that already has the pinned tools', () => {
  it('is used as it is: one probe, no venv, no pip, nothing printed', () => {
    const m = machine({ probe: PINNED });
    expect(m.setUp()).toEqual({ python: 'python3', source: 'as-is', description: `python3 (Python 3.11.7 at ${join(m.bin, 'python3')})` });
    expect(m.calls()).toEqual(['<bin>/python3 <probe>']);
    expect(m.lines).toEqual([]);
    expect(existsSync(m.venv)).toBe(false);
  });

  it('is judged by what the probe prints on stdout, whatever Python warns on stderr', () => {
    const m = machine({ probe: PINNED });
    expect(m.setUp({ FAKE_PROBE_STDERR: "<frozen site>: Warning: a .pth file was skipped" }).source).toBe('as-is');
  });

  it('is the one PYTHON names, when set', () => {
    const m = machine({ probe: PINNED });
    const other = m.anotherPython('python3.12');
    expect(m.setUp({ PYTHON: other }).python).toBe(other);
    expect(m.calls()).toEqual(['<bin>/python3.12 <probe>']);
  });
});

describe('a Python without the pinned tools', () => {
  it.each<[string, Packages, string]>([
    ['missing', {}, 'moto[server]==5.2.* (not installed), cfn-lint==1.51.* (not installed)'],
    ['at another version', { moto: '5.1.18', 'cfn-lint': '1.51.0' }, 'moto[server]==5.2.* (has 5.1.18)'],
    ['without the server extra', { moto: '5.2.1', 'cfn-lint': '1.51.0', motoMissing: ['flask', 'flask-cors'] }, 'moto[server]==5.2.* (missing flask, flask-cors)'],
  ])('(%s) gets a .venv made with it and filled by the venv\'s own pip, told in one line and its time', (_, probe, lacks) => {
    const m = machine({ probe });
    const python = join(m.venv, 'bin', 'python');
    expect(m.setUp()).toEqual({ python, source: 'venv-created', description: `${python} (Python 3.11.7, made with ${join(m.bin, 'python3')})` });
    expect(m.calls()).toEqual([
      '<bin>/python3 <probe>',
      '<bin>/python3 -m venv <project>/.venv',
      '<project>/.venv/bin/python -m pip install --disable-pip-version-check --no-input -r …',
      '<project>/.venv/bin/python <probe>',
    ]);
    expect(m.lines).toEqual([
      `python3 (Python 3.11.7 at ${join(m.bin, 'python3')}) lacks ${lacks}: making ${m.venv} with it and installing requirements-dev.txt there (downloads once, a minute or two)…`,
      expect.stringMatching(new RegExp(`^${m.venv.replaceAll('/', '\\/')} ready in \\d+\\.\\d s: the emulator and cfn-lint run on ${python.replaceAll('/', '\\/')} \\(Python 3\\.11\\.7`)),
    ]);
  });

  it('reuses that .venv on later runs: one probe of python3, no venv, no pip, nothing printed', () => {
    const m = machine();
    m.setUp();
    m.calls();
    m.lines.length = 0;
    expect(m.setUp()).toMatchObject({ python: join(m.venv, 'bin', 'python'), source: 'venv-reused' });
    expect(m.calls()).toEqual(['<bin>/python3 <probe>']);
    expect(m.lines).toEqual([]);
  });

  it('makes the .venv again when requirements-dev.txt changed', () => {
    const m = machine();
    m.setUp();
    writeFileSync(join(m.project, 'requirements-dev.txt'), `${REQUIREMENTS}# a comment is a change too\n`);
    m.calls();
    expect(m.setUp().source).toBe('venv-created');
    expect(m.calls()).toContain('<bin>/python3 -m venv <project>/.venv');
  });

  it('makes the .venv again when PYTHON names another interpreter than the one that made it', () => {
    const m = machine();
    m.setUp();
    const other = m.anotherPython('python3.12');
    m.calls();
    expect(m.setUp({ PYTHON: other, FAKE_PROBE: answer(other, {}) }).source).toBe('venv-created');
    expect(m.calls()).toContain('<bin>/python3.12 -m venv <project>/.venv');
  });

  it('clears a .venv left half-made by a run that died, and makes it anew', () => {
    const m = machine();
    mkdirSync(join(m.venv, 'bin'), { recursive: true });
    writeFileSync(join(m.venv, 's3-encryption-guard.json'), JSON.stringify({ pid: 2 ** 22 + 1 })); // above Linux's pid_max: no such process
    writeFileSync(join(m.venv, 'bin', 'leftover'), '');
    expect(m.setUp().source).toBe('venv-created');
    expect(existsSync(join(m.venv, 'bin', 'leftover'))).toBe(false);
  });

  it('leaves a .venv being made by a live run alone, and says to wait', () => {
    const m = machine();
    mkdirSync(m.venv);
    writeFileSync(join(m.venv, 's3-encryption-guard.json'), JSON.stringify({ pid: process.ppid }));
    expect(thrown(() => m.setUp()).message).toBe(`${m.venv} is being set up by another run (pid ${process.ppid}) with python3 (Python 3.11.7 at ${join(m.bin, 'python3')}); wait for it to finish, then run again.`);
    expect(existsSync(join(m.venv, 's3-encryption-guard.json'))).toBe(true);
  });

  it('never touches a .venv it did not make', () => {
    const m = machine();
    mkdirSync(m.venv);
    writeFileSync(join(m.venv, 'pyvenv.cfg'), 'home = /usr/bin\n');
    expect(thrown(() => m.setUp()).message).toMatch(new RegExp(`exists but was not made by these scripts, so it is left alone.*set PYTHON=${m.venv}/bin/python\\.$`));
    expect(readFileSync(join(m.venv, 'pyvenv.cfg'), 'utf8')).toBe('home = /usr/bin\n');
  });
});

describe('clear errors, naming the interpreter, with no partial .venv left', () => {
  it('no python3 at all', () => {
    const m = machine();
    const error = thrown(() => m.setUp({ PATH: join(root, 'empty') }));
    expect(error.message).toBe('No Python to run the emulator and cfn-lint: python3 was not found on PATH. Install Python 3.9 or newer with its venv module (Debian/Ubuntu: sudo apt install python3 python3-venv; macOS: brew install python), or set PYTHON=/path/to/python3.');
    expect(error.stack).toBe(error.message);
  });

  it('a PYTHON that does not exist', () => {
    const m = machine();
    expect(thrown(() => m.setUp({ PYTHON: '/nowhere/python3' })).message).toBe('No Python to run the emulator and cfn-lint: PYTHON=/nowhere/python3 was not found. Point PYTHON at a Python 3.9 or newer, or unset it to use python3.');
  });

  it('a python3 that cannot run the probe (Python 2, say): shows what it said', () => {
    const m = machine();
    expect(thrown(() => m.setUp({ FAKE_PROBE: '', FAKE_PROBE_STATUS: '1', FAKE_PROBE_STDERR: 'ImportError: cannot import name metadata' })).message).toBe(`python3 did not answer as a Python 3.9 or newer (exit 1):
    ImportError: cannot import name metadata
Install Python 3.9 or newer, or set PYTHON=/path/to/python3.`);
    expect(existsSync(m.venv)).toBe(false);
  });

  it('a Python older than 3.9', () => {
    const m = machine({ pythonVersion: [3, 8, 10] });
    expect(thrown(() => m.setUp()).message).toBe(`python3 (Python 3.8.10 at ${join(m.bin, 'python3')}) is too old: the emulator (moto 5.2) and cfn-lint need Python 3.9 or newer. Install one, or set PYTHON=/path/to/python3.`);
  });

  it.each(['no-ensurepip', 'no-module'] as const)('no venv module (%s)', (venv) => {
    const m = machine({ venv });
    expect(thrown(() => m.setUp()).message).toBe(`python3 (Python 3.11.7 at ${join(m.bin, 'python3')}) cannot make virtual environments: its venv module (with ensurepip) is missing. Install it (Debian/Ubuntu: sudo apt install python3-venv, or python3.11-venv), or set PYTHON to a Python that has it, or to one that already has moto[server]==5.2.* and cfn-lint==1.51.*.`);
    expect(existsSync(m.venv)).toBe(false);
  });

  it('no network to the package index: quotes pip\'s connection error', () => {
    const m = machine({ pipOutput: PIP_NO_DNS, pipStatus: 1 });
    const error = thrown(() => m.setUp());
    expect(error.message).toBe(`Could not reach the Python package index: pip said "Failed to establish a new connection: [Errno -2] Name or service not known" while installing moto[server]==5.2.* and cfn-lint==1.51.* into ${m.venv}, made with python3 (Python 3.11.7 at ${join(m.bin, 'python3')}). Connect to the network, or point pip at a reachable index (PIP_INDEX_URL), and run again: the download happens once. Or set PYTHON to a Python that already has them.`);
    expect(existsSync(m.venv)).toBe(false);
  });

  it('any other pip failure: shows pip\'s last lines', () => {
    const m = machine({ pipOutput: PIP_DISK_FULL, pipStatus: 1 });
    expect(thrown(() => m.setUp()).message).toBe(`pip could not install requirements-dev.txt into ${m.venv}, made with python3 (Python 3.11.7 at ${join(m.bin, 'python3')}) (exit 1). Its last lines:
    Collecting moto[server]==5.2.*
      Downloading moto-5.2.1-py3-none-any.whl (5.3 MB)
    ERROR: Could not install packages due to an OSError: [Errno 28] No space left on device
Fix the cause above and run again, or set PYTHON to a Python that already has moto[server]==5.2.* and cfn-lint==1.51.*.`);
    expect(existsSync(m.venv)).toBe(false);
  });

  it.each([
    ['a refused connection', "after connection broken by 'NewConnectionError('<…>: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/moto/\nERROR: No matching distribution found for moto[server]==5.2.*", 'Failed to establish a new connection: [Errno 111] Connection refused'],
    ['a proxy', "after connection broken by 'ProxyError('Cannot connect to proxy.', OSError('Tunnel connection failed: 403 Forbidden'))': /simple/moto/\nERROR: No matching distribution found for moto[server]==5.2.*", 'Cannot connect to proxy'],
    ['a download cut off', "ERROR: Could not install packages due to an OSError: HTTPSConnectionPool(host='files.pythonhosted.org', port=443): Max retries exceeded with url: /moto.whl (Caused by NewConnectionError('<…>: Failed to establish a new connection: [Errno 101] Network is unreachable'))", 'Failed to establish a new connection: [Errno 101] Network is unreachable'],
  ])('no network through %s', (_, pipOutput, quoted) => {
    const m = machine({ pipOutput, pipStatus: 1 });
    expect(thrown(() => m.setUp()).message).toContain(`Could not reach the Python package index: pip said "${quoted}"`);
  });

  it('a retry that recovered is not a network failure: the build error that followed is what pip shows', () => {
    const m = machine({ pipOutput: "WARNING: Retrying (Retry(total=4)) after connection broken by 'ReadTimeoutError(\"HTTPSConnectionPool(host='pypi.org', port=443): Read timed out. (read timeout=15)\")': /simple/moto/\nerror: subprocess-exited-with-error\nERROR: Failed building wheel for cryptography", pipStatus: 1 });
    expect(thrown(() => m.setUp()).message).toMatch(/^pip could not install requirements-dev.txt .*\n.*\n.*subprocess-exited-with-error\n.*Failed building wheel for cryptography\n/);
  });

  it('pip succeeded yet the pins are not there (a constraints file, say)', () => {
    const m = machine({ installed: { moto: '5.1.0', 'cfn-lint': '1.51.0' } });
    expect(thrown(() => m.setUp()).message).toBe(`pip installed requirements-dev.txt into ${m.venv}, made with python3 (Python 3.11.7 at ${join(m.bin, 'python3')}), yet it lacks moto[server]==5.2.* (has 5.1.0): check pip's configuration (constraints, PIP_* variables), or set PYTHON to a Python that has them.`);
    expect(existsSync(m.venv)).toBe(false);
  });
});
