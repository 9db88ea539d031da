/**
 * `npm run bench`: cold start, warm latency, AWS calls per event, sweep throughput (each beside a baseline
 * measured in the same run) and an organisation sweep through the hub's fan-out (scripts/bench-org.ts),
 * against the local emulator (moto server). Prints tables and writes `bench/results.json`. Options (after `--`):
 *   --runs <n>        fresh processes per cold-start variant (default 9)
 *   --iterations <n>  warm events per latency variant and its baseline (default 100)
 *   --sweep <n>       buckets in the sweep fleet (default 100; 0 skips the sweeps)
 *   --repeats <n>     sweeps per concurrency level (default 3)
 *   --org-buckets <n> buckets per member account in the organisation sweep (default 2000; 0 skips it)
 *   --org-accounts <n> member accounts (default 3); --org-workers <n> sweepWorker containers (default 3)
 *   --org-rtt-buckets <n> buckets per account in the organisation sweep with a 10 ms round trip (default 300)
 * The latency and sweep figures are measured twice: against the emulator as it is, and through a proxy
 * that adds a 10 ms round trip per call (scripts/bench-proxy.ts), the network-bound case of real S3.
 *
 * Cold start: `serverless package` in a copy of the service (serverless-esbuild deletes `.esbuild/`, see
 * tests/template/serverless-cli.ts), the packaged enforceBucket.zip unzipped, and fresh `node` processes
 * that require its handlers/bucket-event.js and handle one event for an existing bucket. Baselines: the
 * same handler with the SDK left in node_modules, a process that only loads the S3 client and makes one
 * call (bundled, and from node_modules), and — to size a recommended change — the bundle with every SDK
 * client but S3 loaded on first use.
 * Absolute figures are the emulator's (one Python process on this machine), not AWS's; the ratios and the
 * call counts are the point. Call counts are deterministic and asserted by tests/integration/call-counts.test.ts.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { inflateRawSync } from 'node:zlib';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateKeyCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand, DeleteBucketEncryptionCommand, PutBucketEncryptionCommand, PutBucketPolicyCommand, PutPublicAccessBlockCommand,
  S3Client, type ServerSideEncryptionByDefault,
} from '@aws-sdk/client-s3';
import { build, type BuildOptions } from 'esbuild';
import type { CallCounts } from '../lib/aws-clients';
import type { S3ForRegion } from '../lib/bucket-state';
import { type EnforceRequest, findingOf, type GuardDeps } from '../lib/enforce';
import type { Finding } from '../lib/finding';
import { describeResult, runServerless, stageService } from '../tests/template/serverless-cli';
import { SIMULATED_RTT_MS, startDelayProxy } from './bench-proxy';
import { emulatorEnv, startEmulator } from './emulator';

// Before any module of the guard is loaded: its logger and metrics read these at import.
process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/* eslint-disable @typescript-eslint/no-require-imports */
const lib = () => ({
  ...(require('../lib/aws-clients') as typeof import('../lib/aws-clients')),
  ...(require('../lib/config') as typeof import('../lib/config')),
  ...(require('../lib/enforce') as typeof import('../lib/enforce')),
  ...(require('../lib/guard') as typeof import('../lib/guard')),
  ...(require('../lib/key-lookup') as typeof import('../lib/key-lookup')),
  ...(require('../lib/key-aliases') as typeof import('../lib/key-aliases')),
  ...(require('../lib/finding-events') as typeof import('../lib/finding-events')),
  ...(require('../lib/telemetry') as typeof import('../lib/telemetry')),
  ...(require('../handlers/bucket-event') as typeof import('../handlers/bucket-event')),
});
/* eslint-enable @typescript-eslint/no-require-imports */

const SERVICE_DIR = resolve(__dirname, '..');
const RESULTS = join(SERVICE_DIR, 'bench', 'results.json');
const REGION = 'us-east-1';
const ACCOUNT = '123456789012'; // the emulator's
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3-encryption-guard-bench-enforceBucket`;
const ACTOR = `arn:aws:iam::${ACCOUNT}:role/bench-deployer`;
const LEDGER_TABLE = 'bench-flap-ledger';
const ZIP_TARGET_BYTES = 400 * 1024;
/** "Close to loading the S3 client and making one call": within this factor. */
const COLD_START_TARGET_RATIO = 1.5;

const GUARDRAILS_OFF = { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' } as const;
/** serverless.yml's default params. */
const GUARDRAILS_DEFAULT = { PUBLIC_ACCESS_BLOCK: 'report', REQUIRE_TLS: 'report', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'report' } as const;
const GUARDRAILS_ENFORCE = { PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'enforce', REQUIRE_SIGV4: 'enforce', DENY_WEAKER_UPLOADS: 'enforce' } as const;
/** The flap ledger as deployed (a table), with a threshold the repeated latency runs cannot reach. */
const LEDGER = { FLAP_TABLE: LEDGER_TABLE, FLAP_THRESHOLD: '100' } as const;
const ALL_BLOCKED = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

// ---------------------------------------------------------------- arguments and statistics

const option = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} needs a number`);
  return value;
};
const percentile = (values: readonly number[], p: number): number => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
};
const median = (values: readonly number[]): number => percentile(values, 50);
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(0)} KB`;
const ms = (value: number): string => value.toFixed(1);
const ratio = (value: number): string => `${value.toFixed(2)}x`;

const table = (rows: readonly (readonly string[])[], rightAligned = true): string => {
  const widths = rows[0].map((_, column) => Math.max(...rows.map((row) => row[column].length)));
  return rows.map((row, index) => {
    const line = row.map((cell, column) => (column === 0 || !rightAligned ? cell.padEnd(widths[column]) : cell.padStart(widths[column]))).join('  ').trimEnd();
    return index === 0 ? `${line}\n${widths.map((w) => '─'.repeat(w)).join('  ')}` : line;
  }).join('\n');
};

// ---------------------------------------------------------------- the emulator fixtures

interface Fixtures {
  endpoint: string;
  s3: S3Client;
  key: string;
  bucket(name: string, options?: { rule?: ServerSideEncryptionByDefault; blocked?: boolean; policy?: object }): Promise<string>;
  /** Takes the bucket's default encryption away (the emulator's "none"), outside any timed section. */
  strip(name: string): Promise<void>;
}

const fixtures = async (endpoint: string): Promise<Fixtures> => {
  const credentials = { accessKeyId: 'testing', secretAccessKey: 'testing' };
  const s3 = new S3Client({ region: REGION, endpoint, forcePathStyle: true, credentials });
  const kms = new KMSClient({ region: REGION, endpoint, credentials });
  const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 'bench key', KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT' }));
  await new DynamoDBClient({ region: REGION, endpoint, credentials }).send(new CreateTableCommand({
    TableName: LEDGER_TABLE, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'bucket', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'bucket', KeyType: 'HASH' }],
  }));
  return {
    endpoint,
    s3,
    key: KeyMetadata!.Arn!,
    async bucket(name, { rule, blocked, policy } = {}) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      if (rule) await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: rule, BucketKeyEnabled: rule.SSEAlgorithm === 'aws:kms' }] } }));
      if (blocked) await s3.send(new PutPublicAccessBlockCommand({ Bucket: name, PublicAccessBlockConfiguration: ALL_BLOCKED }));
      if (policy) await s3.send(new PutBucketPolicyCommand({ Bucket: name, Policy: JSON.stringify(policy) }));
      return name;
    },
    async strip(name) {
      await s3.send(new DeleteBucketEncryptionCommand({ Bucket: name }));
    },
  };
};

const baseEnv = (endpoint: string, settings: Record<string, string> = {}): Record<string, string> => ({
  ...emulatorEnv(endpoint), AWS_REGION: REGION, POWERTOOLS_LOG_LEVEL: 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true', ...settings,
});

const request = (bucket: string): EnforceRequest => ({
  bucket, region: REGION, accountId: ACCOUNT,
  // A distinct event each time: the flap ledger counts an event id once.
  trigger: { type: 'event', eventName: 'PutBucketEncryption', eventId: randomUUID(), actor: ACTOR },
});

const cloudTrailEvent = (bucket: string, eventName = 'PutBucketEncryption') => ({
  version: '0', id: randomUUID(), 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: ACCOUNT, region: REGION,
  time: new Date().toISOString(), resources: [],
  detail: {
    eventVersion: '1.10', eventSource: 's3.amazonaws.com', eventName, awsRegion: REGION, eventID: randomUUID(), readOnly: false,
    eventTime: new Date().toISOString(), eventType: 'AwsApiCall', recipientAccountId: ACCOUNT,
    userIdentity: { type: 'AssumedRole', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/bench-deployer/session`, accountId: ACCOUNT,
      sessionContext: { sessionIssuer: { type: 'Role', arn: ACTOR, accountId: ACCOUNT } } },
    requestParameters: { bucketName: bucket, Host: `${bucket}.s3.amazonaws.com` },
  },
});

// ---------------------------------------------------------------- bundles and cold start

/** The entries of a zip archive (stored or deflated), enough for the packages serverless writes. */
const unzip = (zip: Buffer): Map<string, Buffer> => {
  let end = zip.length - 22;
  while (end >= 0 && zip.readUInt32LE(end) !== 0x06054b50) end--;
  if (end < 0) throw new Error('not a zip archive');
  const files = new Map<string, Buffer>();
  let at = zip.readUInt32LE(end + 16);
  for (let entry = zip.readUInt16LE(end + 10); entry > 0; entry--) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new Error('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const size = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const local = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + size);
    if (method !== 0 && method !== 8) throw new Error(`zip entry ${name}: compression method ${method} not supported`);
    files.set(name, method === 8 ? inflateRawSync(data) : data);
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return files;
};

/** serverless.yml's custom.esbuild, as serverless-esbuild passes it to esbuild. */
const ESBUILD_OPTIONS: BuildOptions = { bundle: true, minify: true, target: 'node22', platform: 'node', sourcemap: false, logLevel: 'silent' };
const SDK_EXTERNAL = ['@aws-sdk/*', '@smithy/*'];

/**
 * Baseline for lib/sdk.ts's lazy loading: the same handler with every SDK package the guard uses loaded
 * at start, as plain top-level imports would.
 */
const EAGER_SDK = ['client-s3', 'client-kms', 'client-sts', 'client-lambda', 'client-eventbridge', 'client-dynamodb'];
const eagerEntry = (handler: string): string =>
  `${EAGER_SDK.map((name) => `require('@aws-sdk/${name}');`).join('\n')}\nmodule.exports = require(${JSON.stringify(handler)});\n`;

const S3_ONE_CALL = `
import { GetBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
const client = new S3Client({ region: process.env.AWS_REGION, endpoint: process.env.AWS_ENDPOINT_URL, forcePathStyle: true });
export const handler = async (event) => {
  const output = await client.send(new GetBucketEncryptionCommand({ Bucket: event.detail.requestParameters.bucketName }));
  return { algorithm: output.ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm };
};`;

/** Runs in each fresh process: load the module, handle one event, report the times since the process started. */
const RUNNER = `'use strict';
const { performance } = require('node:perf_hooks');
const { statSync } = require('node:fs');
const boot = performance.now();
const mod = require(process.argv[2]);
const loaded = performance.now();
Promise.resolve(mod.handler(JSON.parse(process.env.BENCH_EVENT), { invokedFunctionArn: process.env.BENCH_FUNCTION_ARN })).then((result) => {
  const done = performance.now();
  const files = Object.keys(require.cache).filter((file) => file !== __filename);
  const bytes = files.reduce((sum, file) => sum + statSync(file).size, 0);
  const outcome = result && result.finding ? result.finding.verdict + '/' + result.finding.action : JSON.stringify(result);
  process.stdout.write('\\nBENCH_RESULT ' + JSON.stringify({ boot, load: loaded - boot, first: done - loaded, total: done, files: files.length, bytes, outcome }) + '\\n', () => process.exit(0));
}, (error) => { console.error(error); process.exit(1); });
`;

interface ColdVariant {
  name: string;
  file: string;
  env: Record<string, string>;
  /** What the first event must return. */
  expect: string;
}

interface ColdRow {
  name: string;
  /** Bytes of JavaScript the process loaded (the bundle, or the bundle and its node_modules files). */
  loadedBytes: number;
  loadedFiles: number;
  bootMs: number;
  loadMs: number;
  firstEventMs: number;
  coldStartMs: number;
  /** The fastest run: the least disturbed by whatever else the machine was doing. */
  minMs: number;
  runs: number[];
  vsS3OneCall: number;
}

const runOnce = (runner: string, variant: ColdVariant, event: object, home: string): Promise<{ boot: number; load: number; first: number; total: number; files: number; bytes: number; outcome: string }> =>
  new Promise((resolvePromise, reject) => {
    // A clean environment, as in Lambda: no profile files, no developer settings.
    const env = { PATH: process.env.PATH ?? '', HOME: home, ...variant.env, BENCH_EVENT: JSON.stringify(event), BENCH_FUNCTION_ARN: FUNCTION_ARN };
    const child = spawn(process.execPath, [runner, variant.file], { cwd: home, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => { out += chunk.toString(); });
    child.stderr.on('data', (chunk: Buffer) => { err += chunk.toString(); });
    child.once('error', reject);
    child.once('close', (status) => {
      const line = out.split('\n').find((l) => l.startsWith('BENCH_RESULT '));
      if (status !== 0 || !line) return reject(new Error(`${variant.name}: exited ${status}\n${out}\n${err}`));
      const result = JSON.parse(line.slice('BENCH_RESULT '.length)) as { boot: number; load: number; first: number; total: number; files: number; bytes: number; outcome: string };
      if (result.outcome !== variant.expect) return reject(new Error(`${variant.name}: expected ${variant.expect}, got ${result.outcome}`));
      resolvePromise(result);
    });
  });

interface Bundles {
  enforceZipBytes: number;
  sweepZipBytes: number;
  bundleBytes: number;
  packagedFile: string;
  externalFile: string;
  externalBytes: number;
  eagerFile: string;
  eagerBytes: number;
  s3BundledFile: string;
  s3ExternalFile: string;
  packageSeconds: number;
  /** Minified bytes of handlers/bucket-event.js by package (esbuild metafile of the same build), largest first. */
  composition: { source: string; bytes: number }[];
}

/** `@aws-sdk/client-s3`, `lib`, `handlers`: where a bundled file came from. */
const sourceOf = (file: string): string => file.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)?.[1] ?? file.split('/')[0];

const buildBundles = async (work: string): Promise<Bundles> => {
  const stage = stageService();
  try {
    const started = performance.now();
    const out = join(stage.dir, '.bench-package');
    const result = await runServerless(stage.dir, ['package', '--stage', 'bench', '--region', REGION, '--package', out]);
    if (result.status !== 0) throw new Error(describeResult('serverless package', result));
    const packageSeconds = (performance.now() - started) / 1000;
    const enforceZip = readFileSync(join(out, 'enforceBucket.zip'));
    const bundle = unzip(enforceZip).get('handlers/bucket-event.js');
    if (!bundle) throw new Error('enforceBucket.zip has no handlers/bucket-event.js');
    // Bundled variants live where no node_modules can be found: they must be self-contained.
    const packagedFile = join(work, 'packaged', 'handlers', 'bucket-event.js');
    mkdirSync(dirname(packagedFile), { recursive: true });
    writeFileSync(packagedFile, bundle);

    // SDK-external variants need node_modules: they live next to a link to the project's.
    const externalDir = join(work, 'external');
    mkdirSync(externalDir, { recursive: true });
    symlinkSync(join(SERVICE_DIR, 'node_modules'), join(externalDir, 'node_modules'), 'dir');
    const externalFile = join(externalDir, 'bucket-event.js');
    const s3ExternalFile = join(externalDir, 's3-one-call.js');
    const eagerFile = join(work, 'eager', 'bucket-event.js');
    const s3BundledFile = join(work, 's3-only', 's3-one-call.js');
    const entry = join(SERVICE_DIR, 'handlers', 'bucket-event.ts');
    const [analysed] = await Promise.all([
      build({ ...ESBUILD_OPTIONS, absWorkingDir: SERVICE_DIR, entryPoints: [entry], outfile: join(work, 'analysed.js'), write: false, metafile: true }),
      build({ ...ESBUILD_OPTIONS, absWorkingDir: SERVICE_DIR, entryPoints: [entry], outfile: externalFile, external: SDK_EXTERNAL }),
      build({ ...ESBUILD_OPTIONS, absWorkingDir: SERVICE_DIR, stdin: { contents: eagerEntry(entry), resolveDir: SERVICE_DIR, loader: 'js' }, outfile: eagerFile }),
      build({ ...ESBUILD_OPTIONS, absWorkingDir: SERVICE_DIR, stdin: { contents: S3_ONE_CALL, resolveDir: SERVICE_DIR, loader: 'js' }, outfile: s3BundledFile }),
      build({ ...ESBUILD_OPTIONS, absWorkingDir: SERVICE_DIR, stdin: { contents: S3_ONE_CALL, resolveDir: SERVICE_DIR, loader: 'js' }, outfile: s3ExternalFile, external: SDK_EXTERNAL }),
    ]);
    const bySource = new Map<string, number>();
    for (const output of Object.values(analysed.metafile.outputs)) {
      for (const [file, { bytesInOutput }] of Object.entries(output.inputs)) bySource.set(sourceOf(file), (bySource.get(sourceOf(file)) ?? 0) + bytesInOutput);
    }
    return {
      composition: [...bySource].map(([source, bytes]) => ({ source, bytes })).sort((a, b) => b.bytes - a.bytes),
      enforceZipBytes: enforceZip.length,
      sweepZipBytes: statSync(join(out, 'sweepBuckets.zip')).size,
      bundleBytes: bundle.length,
      packagedFile,
      externalFile,
      externalBytes: statSync(externalFile).size,
      eagerFile,
      eagerBytes: statSync(eagerFile).size,
      s3BundledFile,
      s3ExternalFile,
      packageSeconds,
    };
  } finally {
    stage.remove();
  }
};

const benchColdStart = async (fx: Fixtures, bundles: Bundles, work: string, runs: number): Promise<ColdRow[]> => {
  const bucket = await fx.bucket('bench-cold-start', { rule: { SSEAlgorithm: 'AES256' }, blocked: true });
  const runner = join(work, 'runner.cjs');
  writeFileSync(runner, RUNNER);
  const home = mkdtempSync(join(work, 'home-'));
  const deployed = baseEnv(fx.endpoint, { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_DEFAULT, ...LEDGER, FLAP_THRESHOLD: '3' });
  const off = baseEnv(fx.endpoint, { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_OFF });
  const variants: ColdVariant[] = [
    { name: 'packaged bundle, deployed defaults', file: bundles.packagedFile, env: deployed, expect: 'COMPLIANT/NONE' },
    { name: 'packaged bundle, guardrails off', file: bundles.packagedFile, env: off, expect: 'COMPLIANT/NONE' },
    { name: 'baseline: SDK from node_modules', file: bundles.externalFile, env: deployed, expect: 'COMPLIANT/NONE' },
    { name: 'baseline: every SDK client loaded at start', file: bundles.eagerFile, env: deployed, expect: 'COMPLIANT/NONE' },
    { name: 'baseline: S3 client + 1 call, bundled', file: bundles.s3BundledFile, env: off, expect: '{"algorithm":"AES256"}' },
    { name: 'baseline: S3 client + 1 call, node_modules', file: bundles.s3ExternalFile, env: off, expect: '{"algorithm":"AES256"}' },
  ];
  const event = cloudTrailEvent(bucket);
  const samples = new Map(variants.map((v) => [v.name, [] as Awaited<ReturnType<typeof runOnce>>[]]));
  for (const variant of variants) await runOnce(runner, variant, event, home); // file cache warm-up, not counted
  for (let run = 0; run < runs; run++) {
    // Interleaved, so drift on the machine touches every variant alike.
    for (const variant of variants) samples.get(variant.name)!.push(await runOnce(runner, variant, event, home));
  }
  const reference = median(samples.get(variants[4].name)!.map((s) => s.total));
  return variants.map((variant) => {
    const list = samples.get(variant.name)!;
    const coldStartMs = median(list.map((s) => s.total));
    return {
      name: variant.name,
      loadedBytes: list[0].bytes,
      loadedFiles: list[0].files,
      bootMs: round(median(list.map((s) => s.boot))),
      loadMs: round(median(list.map((s) => s.load))),
      firstEventMs: round(median(list.map((s) => s.first))),
      coldStartMs: round(coldStartMs),
      minMs: round(Math.min(...list.map((s) => s.total))),
      runs: list.map((s) => round(s.total)),
      vsS3OneCall: round(coldStartMs / reference),
    };
  });
};

// ---------------------------------------------------------------- warm latency

/** S3 calls one at a time: the guard's own code, with `Promise.all` turned into a queue (the sequential-reads baseline). */
const oneAtATime = (s3: S3ForRegion): S3ForRegion => {
  let queue: Promise<unknown> = Promise.resolve();
  return (region) => {
    const client = s3(region);
    return new Proxy(client, {
      get(target, property) {
        if (property !== 'send') return Reflect.get(target, property, target) as unknown;
        return (command: Parameters<S3Client['send']>[0]) => {
          const run = queue.then(() => target.send(command));
          queue = run.catch(() => undefined);
          return run;
        };
      },
    });
  };
};

interface LatencyRow {
  name: string;
  p50: number;
  p95: number;
  baseline: string;
  baselineP50: number;
  baselineP95: number;
  /** Baseline p50 / candidate p50: how many times faster the choice is. */
  speedup: number;
  calls: number;
  baselineCalls: number;
}

interface Side {
  deps: GuardDeps;
  calls: CallCounts;
}

const benchLatency = async (
  name: string, baselineName: string, iterations: number,
  candidate: Side, baseline: Side,
  bucketFor: (iteration: number) => Promise<string>, expect: Finding['action'],
): Promise<LatencyRow> => {
  const { enforceBucket } = lib();
  const total = (calls: CallCounts) => Object.values(calls).reduce((sum, n) => sum + n, 0);
  const time = async (side: Side, iteration: number, record: number[] | undefined): Promise<void> => {
    const bucket = await bucketFor(iteration); // any reset happens here, untimed
    const started = performance.now();
    const finding = findingOf(await enforceBucket(request(bucket), side.deps));
    const elapsed = performance.now() - started;
    if (finding.action !== expect) throw new Error(`${name}: expected ${expect}, got ${finding.verdict}/${finding.action} ${JSON.stringify(finding.violations)}`);
    record?.push(elapsed);
  };
  const warmUp = 5;
  for (let i = 0; i < warmUp; i++) {
    await time(candidate, i, undefined);
    await time(baseline, i, undefined);
  }
  const a: number[] = [];
  const b: number[] = [];
  const callsBefore = [total(candidate.calls), total(baseline.calls)];
  for (let i = 0; i < iterations; i++) {
    // Alternating which goes first, so neither always follows the other's reset.
    if (i % 2 === 0) {
      await time(candidate, i, a);
      await time(baseline, i, b);
    } else {
      await time(baseline, i, b);
      await time(candidate, i, a);
    }
  }
  const p50 = median(a);
  const baselineP50 = median(b);
  return {
    name, p50: round(p50), p95: round(percentile(a, 95)), baseline: baselineName, baselineP50: round(baselineP50), baselineP95: round(percentile(b, 95)),
    speedup: round(baselineP50 / p50),
    calls: round((total(candidate.calls) - callsBefore[0]) / iterations), baselineCalls: round((total(baseline.calls) - callsBefore[1]) / iterations),
  };
};

const benchLatencies = async (fx: Fixtures, iterations: number): Promise<LatencyRow[]> => {
  const { createAliasLookup, createClients, createGuard, createKeyLookup, KEY_CACHE_TTL_MS, loadConfig } = lib();
  const side = (endpoint: string, settings: Record<string, string>, wrap: (s3: S3ForRegion) => S3ForRegion = (s3) => s3): Side => {
    const guard = createGuard(baseEnv(endpoint, settings));
    return { deps: { ...guard, s3: wrap(guard.s3) }, calls: guard.calls };
  };
  const keySide = (endpoint: string, ttl: number): Side => {
    const env = baseEnv(endpoint, { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: fx.key, ...GUARDRAILS_OFF });
    const clients = createClients(env);
    return { deps: { config: loadConfig(env), s3: clients.s3, describeKey: createKeyLookup(clients.kms, ttl), keyAliases: createAliasLookup(clients.kms, ttl) }, calls: clients.calls };
  };
  /** The client configuration of lib/aws-clients.ts, with and without connection reuse. */
  const keepAliveSide = (endpoint: string, keepAlive: boolean): Side => {
    const env = baseEnv(endpoint, { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_OFF });
    const calls: CallCounts = {};
    const client = new S3Client({
      region: REGION, endpoint, forcePathStyle: true, followRegionRedirects: false, retryMode: 'adaptive', maxAttempts: 5,
      credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' }, requestHandler: { httpAgent: { keepAlive } },
    });
    client.middlewareStack.add((next) => (args) => {
      calls.S3 = (calls.S3 ?? 0) + 1;
      return next(args);
    }, { step: 'initialize' });
    const kms = createClients(env).kms;
    return { deps: { config: loadConfig(env), s3: () => client, describeKey: createKeyLookup(kms), keyAliases: createAliasLookup(kms) }, calls };
  };

  const compliant = await fx.bucket('bench-warm-compliant', { rule: { SSEAlgorithm: 'AES256' }, blocked: true });
  const cmkBucket = await fx.bucket('bench-warm-cmk', { rule: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: fx.key }, blocked: true });
  const pool = await Promise.all(Array.from({ length: 10 }, (_, i) => fx.bucket(`bench-warm-noncompliant-${i}`, { blocked: true })));
  const stripped = async (i: number) => {
    const bucket = pool[i % pool.length];
    await fx.strip(bucket);
    return bucket;
  };
  const same = (bucket: string) => async () => bucket;
  const off = { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_OFF };
  const deployed = { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_DEFAULT, ...LEDGER };
  const sequential = 'reads one at a time';
  const rows: LatencyRow[] = [];
  const local = fx.endpoint;
  rows.push(await benchLatency('compliant, guardrails off', sequential, iterations, side(local, off), side(local, off, oneAtATime), same(compliant), 'NONE'));
  rows.push(await benchLatency('non-compliant, guardrails off', sequential, iterations, side(local, off), side(local, off, oneAtATime), stripped, 'REMEDIATED'));
  rows.push(await benchLatency('compliant, deployed defaults', sequential, iterations, side(local, deployed), side(local, deployed, oneAtATime), same(compliant), 'NONE'));
  rows.push(await benchLatency('compliant, customer key', 'uncached key checks', iterations, keySide(local, KEY_CACHE_TTL_MS), keySide(local, 0), same(cmkBucket), 'NONE'));

  const proxy = await startDelayProxy(fx.endpoint, SIMULATED_RTT_MS);
  try {
    const rtt = ` (${SIMULATED_RTT_MS} ms RTT)`;
    const far = proxy.endpoint;
    rows.push(await benchLatency(`compliant, deployed defaults${rtt}`, sequential, iterations, side(far, deployed), side(far, deployed, oneAtATime), same(compliant), 'NONE'));
    rows.push(await benchLatency(`non-compliant, deployed defaults${rtt}`, sequential, iterations, side(far, deployed), side(far, deployed, oneAtATime), stripped, 'REMEDIATED'));
    rows.push(await benchLatency(`compliant, customer key${rtt}`, 'uncached key checks', iterations, keySide(far, KEY_CACHE_TTL_MS), keySide(far, 0), same(cmkBucket), 'NONE'));
    rows.push(await benchLatency(`compliant, guardrails off, keep-alive${rtt}`, 'new connection per call', iterations, keepAliveSide(far, true), keepAliveSide(far, false), same(compliant), 'NONE'));
  } finally {
    await proxy.close();
  }
  return rows;
};

// ---------------------------------------------------------------- AWS calls per event

interface CallRow {
  name: string;
  calls: number;
  byOperation: CallCounts;
  target?: string;
  met?: boolean;
}

const benchCalls = async (fx: Fixtures): Promise<CallRow[]> => {
  const { callsSince, createAliasLookup, createBucketEventHandler, createClients, createFindingEventPublisher, createGuard, createKeyLookup, createTelemetrySink, enforceBucket, logger } = lib();
  const rows: CallRow[] = [];
  const sum = (calls: CallCounts) => Object.values(calls).reduce((total, n) => total + n, 0);
  let serial = 0;
  const fresh = (options: Parameters<Fixtures['bucket']>[1] = {}) => fx.bucket(`bench-calls-${serial++}`, options);
  /** Calls of one enforceBucket on a warm guard (one event handled before, on another bucket). */
  const measure = async (name: string, settings: Record<string, string>, bucket: string, expect: Finding['action'], target?: (calls: number, byOperation: CallCounts) => [string, boolean]) => {
    const guard = createGuard(baseEnv(fx.endpoint, settings));
    await enforceBucket(request(await fresh({ rule: { SSEAlgorithm: 'AES256' }, blocked: true })), guard);
    const before = { ...guard.calls };
    const finding = findingOf(await enforceBucket(request(bucket), guard));
    if (finding.action !== expect) throw new Error(`${name}: expected ${expect}, got ${finding.verdict}/${finding.action} ${JSON.stringify(finding.violations)}`);
    const byOperation = callsSince(guard.calls, before);
    const calls = sum(byOperation);
    const [targetText, met] = target ? target(calls, byOperation) : [undefined, undefined];
    rows.push({ name, calls, byOperation, ...(targetText ? { target: targetText, met } : {}) });
    return { calls, byOperation };
  };
  const atMost = (n: number) => (calls: number): [string, boolean] => [`<= ${n}`, calls <= n];
  const aes = { rule: { SSEAlgorithm: 'AES256' as const }, blocked: true };
  const off = { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_OFF };

  const compliantOff = await measure('compliant, guardrails off', off, await fresh(aes), 'NONE', atMost(2));
  // Reads, the re-read just before writing (is it still what was judged?), the write, the read-back.
  await measure('non-compliant, guardrails off', off, await fresh({ blocked: true }), 'REMEDIATED', atMost(5));
  // The ledger: the claim before the write, and the record after it (this event's own change was undone).
  await measure('non-compliant, guardrails off, flap ledger', { ...off, ...LEDGER }, await fresh({ blocked: true }), 'REMEDIATED',
    (calls, ops) => ['<= 5 + claim + record', calls <= 7 && (ops['DynamoDB.UpdateItem'] ?? 0) <= 2]);
  for (const guardrail of Object.keys(GUARDRAILS_OFF)) {
    // REQUIRE_TLS also reads the website configuration: a website endpoint cannot require TLS.
    const reads = guardrail === 'REQUIRE_TLS' ? 2 : 1;
    await measure(`compliant, ${guardrail}=report`, { ...off, [guardrail]: 'report' }, await fresh(aes), 'NONE', (calls) => [`+${reads} read${reads > 1 ? 's' : ''}`, calls - compliantOff.calls <= reads]);
  }
  const allReport = Object.fromEntries(Object.keys(GUARDRAILS_OFF).map((g) => [g, 'report']));
  await measure('compliant, all guardrails report', { ...off, ...allReport }, await fresh(aes), 'NONE', (calls) => ['+3 reads (policy shared, PAB, website)', calls - compliantOff.calls <= 3]);
  await measure('compliant, deployed defaults', { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_DEFAULT, ...LEDGER }, await fresh(aes), 'NONE', atMost(5));
  await measure('non-compliant, deployed defaults', { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_DEFAULT, ...LEDGER }, await fresh({ blocked: true }), 'REMEDIATED',
    (calls) => ['<= 5 + claim + record + 3 guardrail reads', calls <= 10]);

  // Enforce: a bucket already carrying every guardrail costs reads only; one that needs them, writes.
  const enforce = { ENCRYPTION_MODE: 'SSE_S3', ...GUARDRAILS_ENFORCE };
  const guarded = await fresh({ blocked: true });
  const plan = findingOf(await enforceBucket(request(guarded), createGuard(baseEnv(fx.endpoint, enforce))));
  if (plan.action !== 'REMEDIATED') throw new Error(`guardrails enforce: expected REMEDIATED, got ${plan.action}`);
  await measure('all guardrails enforce, already in place', enforce, guarded, 'NONE', (_calls, ops) => ['no write', !Object.keys(ops).some((op) => /\.(Put|Delete)/.test(op))]);
  await measure('all guardrails enforce, none in place', enforce, await fresh(), 'REMEDIATED',
    (_calls, ops) => ['one write per setting', Object.entries(ops).filter(([op]) => /\.(Put|Delete)/.test(op)).every(([, n]) => n === 1)]);

  // Key checks: the first bucket on a key describes it; the next one (same key) is answered from the cache.
  const cmk = { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: fx.key, ...GUARDRAILS_OFF };
  const onKey = { rule: { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: fx.key }, blocked: true };
  {
    const guard = createGuard(baseEnv(fx.endpoint, cmk));
    const onKeyCalls = async (name: string, deps: GuardDeps, calls: CallCounts, target?: [string, (ops: CallCounts) => boolean]) => {
      const before = { ...calls };
      const finding = findingOf(await enforceBucket(request(await fresh(onKey)), deps));
      if (finding.action !== 'NONE') throw new Error(`${name}: expected NONE, got ${finding.verdict}/${finding.action} ${JSON.stringify(finding.violations)}`);
      const byOperation = callsSince(calls, before);
      rows.push({ name, calls: sum(byOperation), byOperation, ...(target ? { target: target[0], met: target[1](byOperation) } : {}) });
    };
    await onKeyCalls('customer key, first bucket on the key', guard, guard.calls);
    await onKeyCalls('customer key, next bucket (cached key)', guard, guard.calls, ['no KMS call', (ops) => !Object.keys(ops).some((op) => op.startsWith('KMS.'))]);
    const clients = createClients(baseEnv(fx.endpoint, cmk));
    const uncached: GuardDeps = { config: guard.config, s3: clients.s3, describeKey: createKeyLookup(clients.kms, 0), keyAliases: createAliasLookup(clients.kms, 0) };
    await onKeyCalls('baseline: customer key, first bucket, uncached', uncached, clients.calls);
    await onKeyCalls('baseline: customer key, next bucket, uncached', uncached, clients.calls);
  }

  // Through the handler as Lambda runs it: a cold container's first event, and findings published as events.
  const handlerCalls = async (name: string, settings: Record<string, string>, events: object, target?: (calls: number, ops: CallCounts, count: number) => [string, boolean], count = 1) => {
    const guard = createGuard(baseEnv(fx.endpoint, settings));
    const run = createBucketEventHandler(guard, createTelemetrySink(createFindingEventPublisher(() => guard.events(guard.homeRegion), logger)));
    await run(events, { invokedFunctionArn: FUNCTION_ARN });
    const byOperation = callsSince(guard.calls, {});
    const calls = sum(byOperation) / count;
    const [targetText, met] = target ? target(calls, byOperation, count) : [undefined, undefined];
    rows.push({ name, calls: round(calls), byOperation: Object.fromEntries(Object.entries(byOperation).map(([op, n]) => [op, round(n / count)])), ...(targetText ? { target: targetText, met } : {}) });
  };
  await handlerCalls('handler, cold container, compliant', off, cloudTrailEvent(await fresh(aes)), (calls, ops) => ['2, no STS', calls <= 2 && !ops['STS.GetCallerIdentity']]);
  await handlerCalls('handler, non-compliant (finding event)', off, cloudTrailEvent(await fresh({ blocked: true })));
  const batch = await Promise.all(Array.from({ length: 10 }, () => fresh({ blocked: true })));
  await handlerCalls('handler, SQS batch of 10 non-compliant, per event', off, {
    Records: batch.map((bucket, i) => ({ messageId: `m-${i}`, receiptHandle: 'r', body: JSON.stringify(cloudTrailEvent(bucket)), attributes: {}, messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:settle`, awsRegion: REGION })),
  }, undefined, batch.length);
  return rows;
};

// ---------------------------------------------------------------- main

const main = async (): Promise<void> => {
  const started = performance.now();
  const runs = option('runs', 9);
  const iterations = option('iterations', 100);
  const sweepBuckets = option('sweep', 100);
  const repeats = option('repeats', 3);
  const org = { accounts: option('org-accounts', 3), bucketsPerAccount: option('org-buckets', 2000), workers: option('org-workers', 3), rttBuckets: option('org-rtt-buckets', 300) };
  const work = mkdtempSync(join(tmpdir(), 's3-encryption-guard-bench-'));
  const results: Record<string, unknown> = {
    generatedAt: new Date().toISOString(),
    machine: { cpus: cpus().length, cpuModel: cpus()[0]?.model, node: process.version, platform: process.platform, arch: process.arch },
    settings: { coldStartRuns: runs, latencyIterations: iterations, sweepBuckets, sweepRepeats: repeats, organization: org },
  };
  try {
    console.log('Packaging (serverless package in a copy of the service) and building the baseline bundles…');
    const bundles = await buildBundles(work);
    const emulator = await startEmulator();
    // Credentials and region for every client of this process (the SDK reads them from process.env).
    delete process.env.AWS_PROFILE;
    Object.assign(process.env, emulatorEnv(emulator.endpoint), { AWS_REGION: REGION });
    let cold: ColdRow[];
    let latency: LatencyRow[];
    let calls: CallRow[];
    try {
      const fx = await fixtures(emulator.endpoint);
      console.log(`Cold start: ${runs} fresh processes per variant…`);
      cold = await benchColdStart(fx, bundles, work, runs);
      console.log(`Warm latency: ${iterations} events per variant and baseline…`);
      latency = await benchLatencies(fx, iterations);
      console.log('AWS calls per event…');
      calls = await benchCalls(fx);
    } finally {
      await emulator.stop();
    }

    const packaged = cold[0];
    const external = cold[2];
    const eager = cold[3];
    const s3Only = cold[4];
    console.log(`\nBundle and cold start (load + first event in a fresh node process, median of ${runs}; packaging took ${bundles.packageSeconds.toFixed(1)} s)`);
    console.log(`enforceBucket.zip ${kb(bundles.enforceZipBytes)} (target < ${kb(ZIP_TARGET_BYTES)}), sweepBuckets.zip ${kb(bundles.sweepZipBytes)}; handlers/bucket-event.js ${kb(bundles.bundleBytes)} (SDK external: ${kb(bundles.externalBytes)} + node_modules)`);
    const top = bundles.composition.slice(0, 8).map((c) => `${c.source} ${kb(c.bytes)}`).join(', ');
    const unused = bundles.composition.filter((c) => /^@aws-sdk\/client-(?!s3$)/.test(c.source));
    console.log(`Largest parts of the bundle: ${top}.`);
    console.log(`SDK clients a compliant SSE_S3 event never calls: ${unused.map((c) => `${c.source.replace('@aws-sdk/', '')} ${kb(c.bytes)}`).join(', ')} = ${kb(unused.reduce((n, c) => n + c.bytes, 0))}.`);
    console.log(table([
      ['variant', 'JS loaded', 'files', 'boot ms', 'load ms', 'first event ms', 'cold start ms', 'min ms', 'vs S3 + 1 call'],
      ...cold.map((row) => [row.name, kb(row.loadedBytes), String(row.loadedFiles), ms(row.bootMs), ms(row.loadMs), ms(row.firstEventMs), ms(row.coldStartMs), ms(row.minMs), ratio(row.vsS3OneCall)]),
    ]));
    console.log(`Speed-up of bundling the SDK (node_modules ÷ bundled cold start): ${ratio(external.coldStartMs / packaged.coldStartMs)}; of loading the non-S3 clients on first use (eager ÷ packaged): ${ratio(eager.coldStartMs / packaged.coldStartMs)} (load ${ms(eager.loadMs)} → ${ms(packaged.loadMs)} ms).`);

    console.log('\nWarm latency per event, in-process (ms; the baseline is measured in the same run, interleaved)');
    console.log(table([
      ['scenario', 'p50', 'p95', 'calls', 'baseline', 'p50', 'p95', 'calls', 'speed-up'],
      ...latency.map((row) => [row.name, ms(row.p50), ms(row.p95), String(row.calls), row.baseline, ms(row.baselineP50), ms(row.baselineP95), String(row.baselineCalls), ratio(row.speedup)]),
    ]));

    console.log('\nAWS calls per event (warm container unless said otherwise)');
    console.log(table([
      ['scenario', 'calls', 'target', 'met', 'by operation'],
      ...calls.map((row) => [row.name, String(row.calls), row.target ?? '', row.met === undefined ? '' : row.met ? 'yes' : 'NO',
        Object.entries(row.byOperation).map(([op, n]) => `${op.replace(/^S3\./, '')} ${n}`).join(', ')]),
    ], false));

    const sweep: unknown[] = [];
    if (sweepBuckets > 0) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { benchSweep, printSweepRows } = require('./bench-sweep') as typeof import('./bench-sweep');
      for (const rttMs of [0, SIMULATED_RTT_MS]) {
        console.log(`\nSweep: ${sweepBuckets} buckets, ${repeats} repeats per concurrency level${rttMs ? `, ${rttMs} ms RTT` : ''} (its own emulator)…`);
        const rows = await benchSweep(sweepBuckets, repeats, rttMs);
        printSweepRows(sweepBuckets, rows, rttMs);
        sweep.push({ buckets: sweepBuckets, repeats, simulatedRttMs: rttMs, rows: rows.map((row) => ({ ...row, seconds: round(row.seconds, 3), bucketsPerSecond: round(row.bucketsPerSecond, 1), callsPerBucket: round(row.callsPerBucket), speedup: round(row.speedup) })) });
      }
    }

    const organization: Record<string, unknown> = {};
    if (org.bucketsPerAccount > 0) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { benchOrganization, printOrganization } = require('./bench-org') as typeof import('./bench-org');
      const variants = [['emulator', org.bucketsPerAccount, 0], ['simulatedRtt', org.rttBuckets, SIMULATED_RTT_MS]] as const;
      for (const [name, bucketsPerAccount, rttMs] of variants) {
        if (bucketsPerAccount === 0) continue;
        console.log(`\nOrganisation sweep: ${org.accounts} accounts × ${bucketsPerAccount} buckets through the fan-out${rttMs ? `, ${rttMs} ms RTT` : ''} (its own emulator)…`);
        const result = await benchOrganization({ accounts: org.accounts, bucketsPerAccount, workers: org.workers, rttMs });
        printOrganization(result);
        organization[name] = result;
      }
    }

    const callTargetsMet = calls.filter((row) => row.met !== undefined).every((row) => row.met);
    const targets = [
      { target: 'zip under 400 KB (enforceBucket)', measured: kb(bundles.enforceZipBytes), met: bundles.enforceZipBytes < ZIP_TARGET_BYTES },
      { target: 'zip under 400 KB (sweepBuckets)', measured: kb(bundles.sweepZipBytes), met: bundles.sweepZipBytes < ZIP_TARGET_BYTES },
      ...[packaged, cold[1]].map((row) => ({
        target: `cold start within ${COLD_START_TARGET_RATIO}x of S3 client + 1 call, bundled (${row.name.replace('packaged bundle, ', '')})`,
        measured: `median ${ms(row.coldStartMs)} vs ${ms(s3Only.coldStartMs)} ms = ${ratio(row.vsS3OneCall)}; min ${ms(row.minMs)} vs ${ms(s3Only.minMs)} ms = ${ratio(row.minMs / s3Only.minMs)}`,
        met: row.vsS3OneCall <= COLD_START_TARGET_RATIO,
      })),
      { target: 'AWS calls per event (the rows with a target above)', measured: `${calls.filter((row) => row.met).length} of ${calls.filter((row) => row.met !== undefined).length} met`, met: callTargetsMet },
    ];
    console.log('\nTargets');
    console.log(table([['target', 'measured', 'met'], ...targets.map((t) => [t.target, t.measured, t.met ? 'yes' : 'NO'])], false));

    const seconds = (performance.now() - started) / 1000;
    Object.assign(results, {
      durationSeconds: round(seconds, 1),
      sizes: { composition: bundles.composition.slice(0, 20), enforceZipBytes: bundles.enforceZipBytes, sweepZipBytes: bundles.sweepZipBytes, bundleBytes: bundles.bundleBytes, sdkExternalBundleBytes: bundles.externalBytes, eagerBundleBytes: bundles.eagerBytes, packageSeconds: round(bundles.packageSeconds, 1) },
      coldStart: { runs, rows: cold, bundledVsNodeModules: round(external.coldStartMs / packaged.coldStartMs), lazyClientsSpeedup: round(eager.coldStartMs / packaged.coldStartMs) },
      latency,
      calls,
      sweep,
      organization,
      targets,
    });
    mkdirSync(dirname(RESULTS), { recursive: true });
    writeFileSync(RESULTS, `${JSON.stringify(results, null, 2)}\n`);
    console.log(`\nWrote ${RESULTS} in ${seconds.toFixed(0)} s.`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
};

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exitCode = 1;
});
