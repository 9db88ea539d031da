/**
 * Running the Serverless CLI (osls) from tests: `serverless package` for the template suites and
 * `serverless invoke local` for the smoke test.
 *
 * Each suite works on its own copy of the service. serverless-esbuild bundles into the service's
 * `.esbuild/` folder and deletes that folder after packaging, so two runs in one directory (jest runs
 * suites in parallel; people run the CLI by hand) would delete each other's bundles. The copy holds the
 * working tree's current files (node_modules is linked, not copied).
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { cfnLintCommand } from '../../scripts/python-env';

export const SERVICE_DIR = resolve(__dirname, '..', '..');
export const CLI_TIMEOUT_MS = 180_000;

/** Never copied: dependencies (linked instead), history, build and emulator state, the Python venv, the tests themselves. */
const NOT_COPIED = new Set(['node_modules', '.git', '.serverless', '.esbuild', '.emulator', '.venv', 'coverage', 'tests']);

export interface StagedService {
  dir: string;
  remove(): void;
}

export const stageService = (): StagedService => {
  const dir = mkdtempSync(join(tmpdir(), 's3-encryption-guard-service-'));
  for (const entry of readdirSync(SERVICE_DIR)) {
    if (!NOT_COPIED.has(entry)) cpSync(join(SERVICE_DIR, entry), join(dir, entry), { recursive: true });
  }
  symlinkSync(join(SERVICE_DIR, 'node_modules'), join(dir, 'node_modules'), 'dir');
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
};

/**
 * The test process's environment without anything that could reach a real AWS account or change the
 * function's own settings (tests/setup-env.ts sets fake credentials and silences Powertools).
 */
const cleanEnvironment = (): NodeJS.ProcessEnv => {
  const env = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^AWS_/.test(name) && name !== 'AWS_CA_BUNDLE') delete env[name];
    if (/^POWERTOOLS_/.test(name)) delete env[name];
  }
  delete env.GUARD_TEST_ENDPOINT;
  return env;
};

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export const describeResult = (command: string, result: CliResult): string =>
  `${command} exited ${result.status}\n--- stdout ---\n${result.stdout}\n--- stderr ---\n${result.stderr}`;

/** `npx serverless <args>` in `cwd`, with no AWS credentials unless `env` supplies them. */
export const runServerless = (cwd: string, args: readonly string[], env: Record<string, string> = {}): Promise<CliResult> =>
  new Promise((resolvePromise, reject) => {
    const child = spawn('npx', ['--no', 'serverless', ...args], { cwd, env: { ...cleanEnvironment(), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => { stdout += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { stderr += chunk.toString(); });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      reject(new Error(`serverless ${args.join(' ')} did not finish within ${CLI_TIMEOUT_MS / 1000}s\n${stdout}\n${stderr}`));
    }, CLI_TIMEOUT_MS - 5_000);
    child.once('error', (error) => { clearTimeout(timer); reject(error); });
    child.once('close', (status) => { clearTimeout(timer); resolvePromise({ status, stdout, stderr }); });
  });

export type Template = { Resources: Record<string, { Type: string; Properties?: any; DependsOn?: string | string[] }>; [key: string]: unknown };

export interface Packaged {
  result: CliResult;
  /** The packaged template's path, if packaging succeeded. */
  templatePath?: string;
  template?: Template;
}

/** `serverless package` into a fresh directory inside the staged service (removed with it), with the given `--param` values. */
export const packageService = async (service: StagedService, params: Record<string, string> = {}): Promise<Packaged> => {
  const out = mkdtempSync(join(service.dir, '.package-'));
  const args = ['package', '--stage', 'dev', '--region', 'us-east-1', '--package', out,
    ...Object.entries(params).map(([name, value]) => `--param=${name}=${value}`)];
  const result = await runServerless(service.dir, args);
  const templatePath = join(out, 'cloudformation-template-update-stack.json');
  if (result.status !== 0 || !existsSync(templatePath)) return { result };
  return { result, templatePath, template: JSON.parse(readFileSync(templatePath, 'utf8')) as Template };
};

/** The logical id an intrinsic points at: `{Ref: X}`, `{"Fn::GetAtt": [X, "Arn"]}`, `{"Fn::GetAtt": "X.Arn"}` or `{"Fn::Sub": "${X.Arn}"}`. */
export const targetOf = (value: unknown): string | undefined => {
  if (typeof value !== 'object' || value === null) return undefined;
  const record = value as Record<string, unknown>;
  if (typeof record.Ref === 'string') return record.Ref;
  const getAtt = record['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  const sub = record['Fn::Sub'];
  if (typeof sub === 'string') return /^\$\{([A-Za-z0-9]+)(\.[A-Za-z]+)?\}$/.exec(sub)?.[1];
  return undefined;
};

export const asArray = <T>(value: T | T[] | undefined): T[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** cfn-lint (of the Python the emulator runs on) on a packaged template: exit status and everything it printed. */
export const cfnLint = (templatePath: string): { status: number | null; output: string } => {
  const { command, args } = cfnLintCommand(['--', templatePath]);
  const run = spawnSync(command, args, { encoding: 'utf8' });
  if (run.error) throw new Error(`cfn-lint could not run on ${command}: ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
};

/** cfn-lint finds nothing at all (errors, warnings, informational) in the template. */
export const expectLintClean = (templatePath: string): void => {
  const lint = cfnLint(templatePath);
  expect({ status: lint.status, output: lint.output }).toEqual({ status: 0, output: '' });
};

export const expectPackaged = (packaged: Packaged): { template: Template; templatePath: string } => {
  if (!packaged.template || !packaged.templatePath) throw new Error(describeResult('serverless package', packaged.result));
  return { template: packaged.template, templatePath: packaged.templatePath };
};

export const resourcesOfType = (template: Template, type: string): Array<[string, any]> =>
  Object.entries(template.Resources).filter(([, resource]) => resource.Type === type);

export const single = <T>(items: T[], what: string): T => {
  if (items.length !== 1) throw new Error(`expected exactly one ${what}, found ${items.length}`);
  return items[0];
};

/** Every IAM statement that grants something to a role: its inline policies and the policies attached to it. */
export const roleStatements = (template: Template, roleId: string): any[] => {
  const role = template.Resources[roleId];
  const inline = asArray(role.Properties?.Policies).flatMap((policy: any) => asArray(policy.PolicyDocument?.Statement));
  const attached = Object.values(template.Resources)
    .filter((resource) => resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy')
    .filter((resource) => asArray(resource.Properties?.Roles).some((ref: unknown) => targetOf(ref) === roleId))
    .flatMap((resource) => asArray(resource.Properties?.PolicyDocument?.Statement));
  return [...inline, ...attached];
};

/** Every action a role is granted, in the order of its statements. */
export const actionsOf = (template: Template, roleId: string): string[] =>
  roleStatements(template, roleId).flatMap((statement) => asArray<string>(statement.Action));

/**
 * A template value with `Fn::Sub` of the stack's partition and account filled in, as CloudFormation would in
 * that account; any other intrinsic is an error (an event pattern must need nothing else).
 */
export const resolveAccountSubs = (value: unknown, account: string, partition = 'aws'): unknown => {
  if (Array.isArray(value)) return value.map((item) => resolveAccountSubs(item, account, partition));
  if (typeof value !== 'object' || value === null) return value;
  const sub = (value as Record<string, unknown>)['Fn::Sub'];
  if (typeof sub === 'string') {
    const text = sub.replaceAll('${AWS::Partition}', partition).replaceAll('${AWS::AccountId}', account);
    if (text.includes('${')) throw new Error(`unresolved Fn::Sub variable in ${sub}`);
    return text;
  }
  if (Object.keys(value).some((key) => key.startsWith('Fn::') || key === 'Ref')) throw new Error(`unresolved intrinsic: ${JSON.stringify(value)}`);
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, resolveAccountSubs(inner, account, partition)]));
};
