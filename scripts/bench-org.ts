/**
 * `npm run bench:org [-- --accounts <n> --buckets <per account> --workers <n> --rtt <ms>]` (and a part of
 * `npm run bench`): an organisation sweep through the real fan-out on the local emulator. Member accounts
 * (default 3) with their member role and a fleet each (default 2,000 buckets, the states of scripts/fleet.ts:
 * 2 of 5 remediated), then the hub's sweepBuckets sends one message per account to the sweep work queue and
 * sweepWorker containers (default 3, Lambda's concurrency here) drain it: account messages → page messages →
 * findings, until `sweep completed`. Measures the set-up, the wall time, buckets/s, AWS calls per bucket by
 * operation, STS AssumeRole calls per account, SQS messages sent, page-message durations and the Lambda
 * GB-seconds they bill at the worker's 512 MB. The emulator is one Python process on a shared machine: its
 * times are not AWS's (with --rtt, every call of the guard also waits a simulated round trip).
 */
import { performance } from 'node:perf_hooks';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { CallCounts } from '../lib/aws-clients';
import type { OrgSweepSummary } from '../lib/organization/sweep-progress';
import type { SweepMessage } from '../lib/organization/sweep-messages';
import type { FindingSink } from '../lib/telemetry';
import { startDelayProxy } from './bench-proxy';
import { emulatorEnv, startEmulator } from './emulator';
import { seedFleet } from './fleet';
import {
  accountCredentials, accountS3, createHubStorage, createMemberRole, drainSweepQueue, HUB_ACCOUNT, HUB_REGION, type Invocation, refuseAbsentRoles, serialiseItemWrites,
} from './org-emulator';

process.env.POWERTOOLS_LOG_LEVEL = 'SILENT';
process.env.POWERTOOLS_METRICS_DISABLED = 'true';
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** sweepWorker's memory (resources/organization.cjs): what each millisecond of a message bills. */
export const WORKER_MEMORY_GB = 0.5;
const ROLE_NAME = 's3-encryption-guard-member';
const TABLE = 's3-encryption-guard-bench-flap-ledger';
const QUEUE = 's3-encryption-guard-bench-sweep-work';
const FUNCTION_ARN = `arn:aws:lambda:${HUB_REGION}:${HUB_ACCOUNT}:function:s3-encryption-guard-bench-`;
/** Buckets created at once while seeding: enough to keep the emulator busy, few enough not to queue up in it. */
const SEED_CONCURRENCY = 16;

export interface OrgBenchOptions {
  accounts: number;
  bucketsPerAccount: number;
  /** sweepWorker containers draining the queue at once. */
  workers: number;
  rttMs: number;
}

export interface OrgBenchResult extends OrgBenchOptions {
  buckets: number;
  setupSeconds: number;
  sweepSeconds: number;
  bucketsPerSecond: number;
  calls: { total: number; perBucket: number; byOperationPerBucket: CallCounts };
  s3CallsPerBucket: number;
  assumeRolePerAccount: number;
  sqsMessagesSent: { account: number; page: number };
  /** One invocation per message (batch size 1), the coordinator's included. */
  invocations: { coordinatorMs: number; accountMedianMs: number; pageCount: number; pageMedianMs: number; pageMaxMs: number; failed: number };
  /** Page-message time per bucket: a worker's billed time for one bucket. */
  workerMsPerBucket: number;
  gbSecondsPer1000Buckets: number;
  summary: Pick<OrgSweepSummary, 'accounts' | 'unreachableAccounts' | 'pages' | 'buckets' | 'verdicts' | 'actions'>;
}

const median = (values: readonly number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
const round = (value: number, digits = 2): number => Number(value.toFixed(digits));
/** 111111111111, 222222222222, …: ids that read as member accounts. */
const memberAccount = (index: number): string => (index < 9 ? String(index + 1).repeat(12) : String(100_000_000_000 + index));

const quietSink: FindingSink = { finding: () => undefined, ignored: () => undefined, notEvaluated: () => undefined, retrying: () => undefined, flush: async () => undefined };

export const benchOrganization = async ({ accounts, bucketsPerAccount, workers, rttMs }: OrgBenchOptions): Promise<OrgBenchResult> => {
  const emulator = await startEmulator();
  const proxy = rttMs > 0 ? await startDelayProxy(emulator.endpoint, rttMs) : undefined;
  const saved = { ...process.env };
  try {
    const members = Array.from({ length: accounts }, (_, index) => memberAccount(index));
    const setupStarted = performance.now();
    await Promise.all(members.map(async (account) => {
      const credentials = await accountCredentials(emulator.endpoint, account);
      await createMemberRole(emulator.endpoint, credentials, ROLE_NAME);
      await seedFleet(accountS3(emulator.endpoint, credentials, HUB_REGION), bucketsPerAccount, `bench-org-${account}`, Math.ceil(SEED_CONCURRENCY / accounts));
    }));
    const queueUrl = await createHubStorage(emulator.endpoint, TABLE, QUEUE);
    const setupSeconds = (performance.now() - setupStarted) / 1000;

    // The hub's clients for member accounts read the endpoint from the environment, as in Lambda.
    Object.assign(process.env, emulatorEnv(proxy?.endpoint ?? emulator.endpoint), {
      AWS_REGION: HUB_REGION, ENCRYPTION_MODE: 'SSE_S3', ORGANIZATION: 'hub', MEMBER_ACCOUNTS: members.join(','), MEMBER_ROLE_NAME: ROLE_NAME,
      FLAP_TABLE: TABLE, SWEEP_WORK_QUEUE_NAME: QUEUE,
      PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off',
    });
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { createSweepHandler } = require('../handlers/sweep') as typeof import('../handlers/sweep');
    const { createSweepWorker } = require('../handlers/sweep-worker') as typeof import('../handlers/sweep-worker');
    const { createGuard } = require('../lib/guard') as typeof import('../lib/guard');
    const { hubFactory } = require('../lib/organization/hub') as typeof import('../lib/organization/hub');
    const { createSweepProgress } = require('../lib/organization/sweep-progress') as typeof import('../lib/organization/sweep-progress');
    const { sweepQueueSender } = require('../lib/organization/sweep-queue') as typeof import('../lib/organization/sweep-queue');
    const { createWarningMemory } = require('../lib/warning-memory') as typeof import('../lib/warning-memory');
    /* eslint-enable @typescript-eslint/no-require-imports */

    const sent = { account: 0, page: 0 };
    let summary: OrgSweepSummary | undefined;
    const log = (message: string, details: object): void => {
      if (message === 'sweep completed') summary = (details as { summary: OrgSweepSummary }).summary;
    };
    const guards: Array<ReturnType<typeof createGuard>> = [];
    /** One function container: its own guard, clients, credentials cache and call counts. */
    const container = () => {
      const guard = createGuard();
      refuseAbsentRoles(guard.sts(guard.homeRegion), emulator.endpoint);
      serialiseItemWrites(guard.dynamodb(guard.homeRegion));
      guards.push(guard);
      const send = sweepQueueSender(() => guard.sqs(guard.homeRegion), QUEUE);
      return {
        guard,
        org: {
          hubOf: hubFactory(guard)!,
          progress: createSweepProgress(() => guard.dynamodb(guard.homeRegion), TABLE),
          send: (messages: readonly SweepMessage[]) => {
            for (const message of messages) sent[message.kind]++;
            return send(messages);
          },
        },
      };
    };
    const coordinator = container();
    const start = createSweepHandler(coordinator.guard, quietSink, { handOver: () => Promise.reject(new Error('the hub never continues its sweep')), log, org: coordinator.org });
    const pool = Array.from({ length: workers }, () => {
      const { guard, org } = container();
      const worker = createSweepWorker(guard, quietSink, { ...org, log, warningMemory: createWarningMemory(() => guard.dynamodb(guard.homeRegion), TABLE, () => undefined) });
      return (event: SQSEvent): Promise<SQSBatchResponse> => worker(event, { invokedFunctionArn: `${FUNCTION_ARN}sweepWorker` });
    });

    const sweepStarted = performance.now();
    await start({}, { invokedFunctionArn: `${FUNCTION_ARN}sweepBuckets` });
    const coordinatorMs = performance.now() - sweepStarted;
    const invocations: Invocation[] = await drainSweepQueue({ endpoint: emulator.endpoint, queueUrl, workers: pool, completed: () => summary !== undefined });
    const sweepSeconds = (performance.now() - sweepStarted) / 1000;

    const buckets = accounts * bucketsPerAccount;
    const completed = summary as OrgSweepSummary | undefined;
    const counted = (record: Record<string, number> | undefined): number => Object.values(record ?? {}).reduce((sum, n) => sum + n, 0);
    if (!completed || completed.buckets !== buckets || completed.accounts !== accounts + 1 || completed.unreachableAccounts !== 0
      || counted(completed.verdicts) !== buckets || counted(completed.actions) !== buckets || sent.page !== completed.pages) {
      throw new Error(`the organisation sweep did not cover the fleet exactly: ${JSON.stringify(completed)}`);
    }
    const calls: CallCounts = {};
    for (const guard of guards) for (const [operation, n] of Object.entries(guard.calls)) calls[operation] = (calls[operation] ?? 0) + n;
    const total = Object.values(calls).reduce((sum, n) => sum + n, 0);
    const pages = invocations.filter((i) => i.kind === 'page').map((i) => i.ms);
    const billedMs = coordinatorMs + invocations.reduce((sum, i) => sum + i.ms, 0);
    return {
      accounts, bucketsPerAccount, workers, rttMs, buckets,
      setupSeconds: round(setupSeconds, 1),
      sweepSeconds: round(sweepSeconds, 1),
      bucketsPerSecond: round(buckets / sweepSeconds, 1),
      calls: {
        total, perBucket: round(total / buckets, 3),
        byOperationPerBucket: Object.fromEntries(Object.entries(calls).sort(([, a], [, b]) => b - a).map(([operation, n]) => [operation, round(n / buckets, 4)])),
      },
      s3CallsPerBucket: round(Object.entries(calls).filter(([operation]) => operation.startsWith('S3.')).reduce((sum, [, n]) => sum + n, 0) / buckets, 3),
      assumeRolePerAccount: round((calls['STS.AssumeRole'] ?? 0) / accounts, 2),
      sqsMessagesSent: sent,
      invocations: {
        coordinatorMs: round(coordinatorMs, 0),
        accountMedianMs: round(median(invocations.filter((i) => i.kind === 'account').map((i) => i.ms)), 0),
        pageCount: pages.length, pageMedianMs: round(median(pages), 0), pageMaxMs: round(Math.max(...pages), 0),
        failed: invocations.filter((i) => i.failed).length,
      },
      workerMsPerBucket: round(pages.reduce((sum, ms) => sum + ms, 0) / buckets, 2),
      gbSecondsPer1000Buckets: round((billedMs / 1000) * WORKER_MEMORY_GB / (buckets / 1000), 3),
      summary: { accounts: completed.accounts, unreachableAccounts: completed.unreachableAccounts, pages: completed.pages, buckets: completed.buckets, verdicts: completed.verdicts, actions: completed.actions },
    };
  } finally {
    for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
    Object.assign(process.env, saved);
    await proxy?.close();
    await emulator.stop();
  }
};

export const printOrganization = (result: OrgBenchResult): void => {
  const { invocations: inv } = result;
  console.log(`Organisation sweep: ${result.accounts} member accounts × ${result.bucketsPerAccount} buckets (+ the hub's own account), ${result.workers} sweepWorker containers${result.rttMs ? `, ${result.rttMs} ms simulated round trip per call` : ''}`);
  console.log(`  set-up (roles, ${result.buckets} buckets in mixed states, ${SEED_CONCURRENCY} at a time): ${result.setupSeconds} s`);
  console.log(`  sweep wall time: ${result.sweepSeconds} s = ${result.bucketsPerSecond} buckets/s; verdicts ${JSON.stringify(result.summary.verdicts)}, actions ${JSON.stringify(result.summary.actions)}`);
  console.log(`  messages sent: ${result.sqsMessagesSent.account} account + ${result.sqsMessagesSent.page} page; invocations: coordinator ${inv.coordinatorMs} ms, account median ${inv.accountMedianMs} ms, `
    + `${inv.pageCount} pages median ${inv.pageMedianMs} ms (max ${inv.pageMaxMs}); ${inv.failed} failed`);
  console.log(`  AWS calls: ${result.calls.perBucket} per bucket (S3 ${result.s3CallsPerBucket}); STS AssumeRole ${result.assumeRolePerAccount} per account`);
  console.log(`    ${Object.entries(result.calls.byOperationPerBucket).map(([operation, n]) => `${operation} ${n}`).join(', ')}`);
  console.log(`  worker time ${result.workerMsPerBucket} ms per bucket; Lambda ${result.gbSecondsPer1000Buckets} GB-s per 1,000 buckets at ${WORKER_MEMORY_GB * 1024} MB`);
};

const option = (name: string, fallback: number): number => {
  const index = process.argv.indexOf(`--${name}`);
  const value = index >= 0 ? Number(process.argv[index + 1]) : fallback;
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} needs a whole number`);
  return value;
};

if (require.main === module) {
  const options = { accounts: option('accounts', 3), bucketsPerAccount: option('buckets', 2000), workers: option('workers', 3), rttMs: option('rtt', 0) };
  benchOrganization(options).then(printOrganization, (error: unknown) => {
    console.error(error instanceof Error ? error.stack ?? error.message : error);
    process.exitCode = 1;
  });
}
