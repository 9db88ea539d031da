/**
 * The Python behind the local emulator (moto server) and cfn-lint, for `npm run emulator`, `npm run demo`
 * and `npm test`. `PYTHON` if set, else `python3`, used as it is when it already has requirements-dev.txt's
 * pins (one cheap metadata probe, no network). Otherwise a project-local `.venv/`, made with that
 * interpreter's `venv` module and filled by the venv's own pip, once: later runs reuse it. Nothing is
 * installed system-wide (PEP 668 forbids that on current Debian and Ubuntu).
 *
 * `.venv/` is ours only when it holds MARKER: written with our pid before `venv` runs, and rewritten with
 * the hash of requirements-dev.txt only after pip succeeded. A failed set-up removes the whole `.venv/`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const PROJECT_DIR = join(__dirname, '..');
const PROBE = join(__dirname, 'python-probe.py');
const MARKER = 's3-encryption-guard.json';
const MIN_PYTHON = [3, 9]; // moto 5.2 and cfn-lint 1.51
const PYTHON_NEEDED = `Python ${MIN_PYTHON.join('.')} or newer`;
const LAST_LINES = 12;

/** One line of requirements-dev.txt, e.g. `moto[server]==5.2.*`. */
export interface Pin {
  requirement: string;
  name: string;
  extras: string[];
  version: string;
}

export interface PythonTools {
  /** The interpreter to run moto and cfn-lint with. */
  python: string;
  source: 'as-is' | 'venv-reused' | 'venv-created';
  /** Names the interpreter and its version, for messages. */
  description: string;
}

export interface SetupOptions {
  projectDir?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/** A set-up problem, told in one paragraph: the message is the whole story, so no stack frames (jest prints `stack`). */
export class PythonSetupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PythonSetupError';
    this.stack = message;
  }
}

export const parsePins = (requirements: string): Pin[] =>
  requirements.split('\n').map((line) => line.replace(/#.*/, '').trim()).filter(Boolean).map((line) => {
    const match = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[([^\]]*)\])?\s*==\s*(\d[\w.]*?(?:\.\*)?)$/.exec(line);
    if (!match) throw new PythonSetupError(`requirements-dev.txt: "${line}" is not a pin the set-up understands; write each package as name==X.Y.* or name==X.Y.Z.`);
    return { requirement: line, name: match[1], extras: (match[2] ?? '').split(',').map((extra) => extra.trim()).filter(Boolean), version: match[3] };
  });

/** PEP 440 `==` with an optional trailing `.*` (prefix match on whole release segments). */
export const versionMatches = (installed: string, pinned: string): boolean =>
  pinned.endsWith('.*') ? installed === pinned.slice(0, -2) || installed.startsWith(pinned.slice(0, -1)) : installed === pinned;

interface ProbeAnswer {
  executable: string;
  version: number[];
  packages: Record<string, { version: string | null; missing: string[] }>;
}

interface Probed extends ProbeAnswer {
  description: string;
}

interface Ran {
  status: number | null;
  error?: NodeJS.ErrnoException;
  stdout: string;
  /** stdout, then stderr. */
  output: string;
}

const run = (command: string, args: string[], env: NodeJS.ProcessEnv): Ran => {
  const result = spawnSync(command, args, { env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const stdout = result.stdout ?? '';
  return { status: result.status, error: result.error as NodeJS.ErrnoException | undefined, stdout, output: `${stdout}${result.stderr ?? ''}` };
};

const lastLines = (output: string): string =>
  output.split('\n').map((line) => line.trimEnd()).filter(Boolean).slice(-LAST_LINES).map((line) => `    ${line}`).join('\n');

const pinList = (pins: Pin[]): string => pins.map((pin) => pin.requirement).join(' and ');

const probe = (command: string, named: string, pins: Pin[], env: NodeJS.ProcessEnv): Probed => {
  const ran = run(command, [PROBE, ...pins.map((pin) => (pin.extras.length ? `${pin.name}[${pin.extras.join(',')}]` : pin.name))], env);
  if (ran.error?.code === 'ENOENT') {
    throw new PythonSetupError(env.PYTHON
      ? `No Python to run the emulator and cfn-lint: ${named} was not found. Point PYTHON at a ${PYTHON_NEEDED}, or unset it to use python3.`
      : `No Python to run the emulator and cfn-lint: python3 was not found on PATH. Install ${PYTHON_NEEDED} with its venv module (Debian/Ubuntu: sudo apt install python3 python3-venv; macOS: brew install python), or set PYTHON=/path/to/python3.`);
  }
  let answer: ProbeAnswer | undefined;
  try {
    answer = ran.status === 0 ? JSON.parse(ran.stdout.trim().split('\n').pop() ?? '') as ProbeAnswer : undefined;
  } catch {
    answer = undefined;
  }
  if (!answer) {
    throw new PythonSetupError(`${named} did not answer as a ${PYTHON_NEEDED} (${ran.error ? ran.error.message : `exit ${ran.status}`}):\n${lastLines(ran.output)}\nInstall ${PYTHON_NEEDED}, or set PYTHON=/path/to/python3.`);
  }
  const version = `Python ${answer.version.join('.')}`;
  const description = `${named} (${answer.executable === command ? version : `${version} at ${answer.executable}`})`;
  const [major, minor] = answer.version;
  if (major < MIN_PYTHON[0] || (major === MIN_PYTHON[0] && minor < MIN_PYTHON[1])) {
    throw new PythonSetupError(`${description} is too old: the emulator (moto 5.2) and cfn-lint need ${PYTHON_NEEDED}. Install one, or set PYTHON=/path/to/python3.`);
  }
  return { ...answer, description };
};

/** What a probed interpreter lacks of the pins, in words; empty when it has them all. */
const shortfalls = (answer: ProbeAnswer, pins: Pin[]): string[] => pins.flatMap((pin) => {
  const found = answer.packages[pin.name];
  if (!found?.version) return [`${pin.requirement} (not installed)`];
  if (!versionMatches(found.version, pin.version)) return [`${pin.requirement} (has ${found.version})`];
  return found.missing.length ? [`${pin.requirement} (missing ${found.missing.join(', ')})`] : [];
});

// pip's words for "could not reach the index": resolver, refused, unreachable, timeouts, proxies (Linux, macOS, Windows).
const CONNECTION_TROUBLE = /Failed to establish a new connection: [^'")]*|Temporary failure in name resolution|Name or service not known|nodename nor servname provided[^'")]*|getaddrinfo failed|Network is unreachable|No route to host|Connection refused|Connection timed out|Read timed out|Cannot connect to proxy|Tunnel connection failed[^'")]*/;
// ...and the way pip gives up when nothing could be fetched.
const NOTHING_FETCHED = /No matching distribution found|Could not find a version that satisfies|Max retries exceeded/;
const NO_VENV = /ensurepip is not\s+available|No module named (venv|ensurepip)|python3(\.\d+)?-venv/;

interface VenvMarker {
  pid?: number;
  requirementsSha256?: string;
  basePython?: string;
}

const readMarker = (file: string): VenvMarker | undefined => {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as VenvMarker;
  } catch {
    return undefined;
  }
};

const isRunning = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
};

export const venvPython = (venvDir: string): string =>
  process.platform === 'win32' ? join(venvDir, 'Scripts', 'python.exe') : join(venvDir, 'bin', 'python');

/** Decides, and sets up when needed, the Python for the emulator and cfn-lint. Throws PythonSetupError. */
export const setUpPython = (options: SetupOptions = {}): PythonTools => {
  const projectDir = options.projectDir ?? PROJECT_DIR;
  const env = options.env ?? process.env;
  const log = options.log ?? ((line: string) => console.error(line));
  const requirementsFile = join(projectDir, 'requirements-dev.txt');
  const requirements = readFileSync(requirementsFile, 'utf8');
  const pins = parsePins(requirements);

  const command = env.PYTHON || 'python3';
  const base = probe(command, env.PYTHON ? `PYTHON=${env.PYTHON}` : 'python3', pins, env);
  const lacks = shortfalls(base, pins);
  if (lacks.length === 0) return { python: command, source: 'as-is', description: base.description };

  const venvDir = join(projectDir, '.venv');
  const markerFile = join(venvDir, MARKER);
  const python = venvPython(venvDir);
  const wanted = { requirementsSha256: createHash('sha256').update(requirements).digest('hex'), basePython: base.executable };
  const venvDescription = `${python} (Python ${base.version.join('.')}, made with ${base.executable})`;
  const busy = (pid: string): PythonSetupError =>
    new PythonSetupError(`${venvDir} is being set up by another run${pid} with ${base.description}; wait for it to finish, then run again.`);
  if (existsSync(venvDir)) {
    const marker = readMarker(markerFile);
    if (!marker) {
      throw new PythonSetupError(`${base.description} lacks ${lacks.join(', ')}, and ${venvDir} exists but was not made by these scripts, so it is left alone. Move it away to let them make their own, or install the packages into it (${python} -m pip install -r requirements-dev.txt) and set PYTHON=${python}.`);
    }
    if (marker.requirementsSha256 === wanted.requirementsSha256 && marker.basePython === wanted.basePython && existsSync(python)) {
      return { python, source: 'venv-reused', description: venvDescription };
    }
    if (marker.pid !== undefined && marker.pid !== process.pid && isRunning(marker.pid)) {
      throw busy(` (pid ${marker.pid})`);
    }
    rmSync(venvDir, { recursive: true, force: true }); // half-made by a run that died, or for other pins or another Python
  }

  try {
    mkdirSync(venvDir); // atomic: of two runs starting together, one makes it
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'EEXIST'
      ? busy('')
      : new PythonSetupError(`Could not make ${venvDir} for ${base.description}: ${(error as Error).message}.`);
  }
  const started = Date.now();
  log(`${base.description} lacks ${lacks.join(', ')}: making ${venvDir} with it and installing requirements-dev.txt there (downloads once, a minute or two)…`);
  try {
    writeFileSync(markerFile, JSON.stringify({ pid: process.pid }));
    const venv = run(command, ['-m', 'venv', venvDir], env);
    if (venv.status !== 0) {
      throw new PythonSetupError(NO_VENV.test(venv.output)
        ? `${base.description} cannot make virtual environments: its venv module (with ensurepip) is missing. Install it (Debian/Ubuntu: sudo apt install python3-venv, or python3.${base.version[1]}-venv), or set PYTHON to a Python that has it, or to one that already has ${pinList(pins)}.`
        : `${base.description} could not make ${venvDir} (${venv.error ? venv.error.message : `exit ${venv.status}`}); python -m venv said:\n${lastLines(venv.output)}`);
    }
    const pip = run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '--no-input', '-r', requirementsFile], env);
    if (pip.status !== 0) {
      const trouble = CONNECTION_TROUBLE.exec(pip.output);
      throw new PythonSetupError(trouble && NOTHING_FETCHED.test(pip.output)
        ? `Could not reach the Python package index: pip said "${trouble[0].trim()}" while installing ${pinList(pins)} into ${venvDir}, made with ${base.description}. Connect to the network, or point pip at a reachable index (PIP_INDEX_URL), and run again: the download happens once. Or set PYTHON to a Python that already has them.`
        : `pip could not install requirements-dev.txt into ${venvDir}, made with ${base.description} (${pip.error ? pip.error.message : `exit ${pip.status}`}). Its last lines:\n${lastLines(pip.output)}\nFix the cause above and run again, or set PYTHON to a Python that already has ${pinList(pins)}.`);
    }
    const still = shortfalls(probe(python, python, pins, env), pins);
    if (still.length) {
      throw new PythonSetupError(`pip installed requirements-dev.txt into ${venvDir}, made with ${base.description}, yet it lacks ${still.join(', ')}: check pip's configuration (constraints, PIP_* variables), or set PYTHON to a Python that has them.`);
    }
    writeFileSync(markerFile, JSON.stringify(wanted));
  } catch (error) {
    rmSync(venvDir, { recursive: true, force: true });
    throw error;
  }
  log(`${venvDir} ready in ${((Date.now() - started) / 1000).toFixed(1)} s: the emulator and cfn-lint run on ${venvDescription}.`);
  return { python, source: 'venv-created', description: venvDescription };
};

let chosen: PythonTools | undefined;
/** This process's Python for the emulator and cfn-lint, set up at most once. */
export const pythonTools = (): PythonTools => (chosen ??= setUpPython());

/** cfn-lint's command line on that Python (its console script's entry point: no PATH lookup, no stray cfn-lint). */
export const cfnLintCommand = (args: readonly string[]): { command: string; args: string[] } => ({
  command: pythonTools().python,
  args: ['-c', 'import sys; from cfnlint.runner import main; sys.argv[0] = "cfn-lint"; sys.exit(main())', ...args],
});
