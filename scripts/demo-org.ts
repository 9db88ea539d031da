/**
 * `npm run demo:org`: the organisation hub on a laptop. Starts the local emulator; the hub is moto's default
 * account, with two member accounts that have the member role and buckets in two regions, a third listed
 * account that lacks the role, and an account outside `memberAccounts`. Each bucket's CloudTrail event (as
 * the hub's bus receives it from the spoke) goes to the real `enforceBucket` handler in hub mode; then an
 * organisation sweep runs through the real fan-out — the sweep handler sends one message per account to the
 * sweep work queue, and sweepWorker containers drain it (account messages → page messages) until one of
 * them logs `sweep completed`. Prints what the hub found and did, the sweep's summary, and stops the emulator.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateBucketCommand, DeleteBucketEncryptionCommand, PutBucketEncryptionCommand, PutBucketTaggingCommand, type ServerSideEncryptionByDefault,
} from '@aws-sdk/client-s3';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { BareEventResult } from '../handlers/bucket-event';
import type { FannedOut } from '../handlers/sweep';
import type { Finding, RuleView } from '../lib/finding';
import type { OrgSweepSummary } from '../lib/organization/sweep-progress';
import type { FindingSink } from '../lib/telemetry';
import { VIOLATION_TEXT } from '../lib/violation-text';
import { emulatorEnv, startEmulator } from './emulator';
import {
  accountCredentials, accountS3, createHubStorage, createMemberRole, drainSweepQueue, HUB_ACCOUNT, HUB_REGION, refuseAbsentRoles, serialiseItemWrites,
} from './org-emulator';
import { table } from './text-table';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const MEMBERS = ['111111111111', '222222222222'];
/** Listed in memberAccounts, but the spoke (and its member role) was never deployed there. */
const WITHOUT_ROLE = '333333333333';
/** Not in memberAccounts: the hub never assumes a role there. */
const OUTSIDE = '444444444444';
const ROLE_NAME = 's3-encryption-guard-member';
const TABLE = 's3-encryption-guard-demo-flap-ledger';
const QUEUE = 's3-encryption-guard-demo-sweep-work';
const FUNCTION_ARN = `arn:aws:lambda:${HUB_REGION}:${HUB_ACCOUNT}:function:s3-encryption-guard-demo-`;
const WORKERS = 2;

interface DemoBucket {
  account: string;
  region: string;
  name: string;
  eventName: 'CreateBucket' | 'PutBucketEncryption' | 'PutBucketTagging';
  encryption?: ServerSideEncryptionByDefault;
  tags?: Record<string, string>;
}

const FLEET: DemoBucket[] = [
  { account: HUB_ACCOUNT, region: 'us-east-1', name: 'demo-org-hub-logs', eventName: 'CreateBucket' },
  { account: '111111111111', region: 'us-east-1', name: 'demo-org-a1-new', eventName: 'CreateBucket' },
  { account: '111111111111', region: 'us-east-1', name: 'demo-org-a1-sse-s3', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'AES256' } },
  { account: '111111111111', region: 'eu-west-1', name: 'demo-org-a1-eu-tagged-kms', eventName: 'PutBucketTagging', encryption: { SSEAlgorithm: 'AES256' }, tags: { 'encryption-guard:mode': 'SSE_KMS_AWS_MANAGED' } },
  { account: '111111111111', region: 'eu-west-1', name: 'demo-org-a1-eu-exempt', eventName: 'PutBucketTagging', tags: { 'encryption-guard:exempt': 'true' } },
  { account: '222222222222', region: 'us-east-1', name: 'demo-org-a2-aws-kms', eventName: 'PutBucketEncryption', encryption: { SSEAlgorithm: 'aws:kms' } },
  { account: '222222222222', region: 'eu-west-1', name: 'demo-org-a2-eu-new', eventName: 'CreateBucket' },
  { account: '222222222222', region: 'eu-west-1', name: 'demo-org-a2-eu-tagged-sse-s3', eventName: 'PutBucketTagging', encryption: { SSEAlgorithm: 'aws:kms' }, tags: { 'encryption-guard:mode': 'SSE_S3' } },
  { account: WITHOUT_ROLE, region: 'us-east-1', name: 'demo-org-a3-no-role', eventName: 'CreateBucket' },
  { account: OUTSIDE, region: 'us-east-1', name: 'demo-org-outside', eventName: 'CreateBucket' },
];

const describeRule = (rule: RuleView | undefined): string => {
  if (rule === undefined) return '?';
  if (rule === null) return 'none';
  return rule.algorithm === 'aws:kms' && !rule.kmsKeyId ? 'aws:kms (aws/s3)' : rule.algorithm;
};

const changed = (finding: Finding): string => {
  if (finding.action !== 'REMEDIATED') return 'unchanged';
  return `${describeRule(finding.before)} → ${describeRule(finding.after ?? finding.before)}`;
};

const why = (finding: Finding): string =>
  finding.violations.filter((v) => v.severity === 'violation').map((v) => (v.code === 'MEMBER_ROLE_UNAVAILABLE' ? 'member role cannot be assumed (MEMBER_ROLE_UNAVAILABLE)' : `${VIOLATION_TEXT[v.code]} (${v.code})`)).join('; ')
  || (finding.exemptReason ?? '');

/** The sample event as the hub's bus receives it from a member account's spoke: the member's account and region. */
const eventFor = (sample: { detail: Record<string, unknown> }, bucket: DemoBucket) => {
  const time = new Date().toISOString();
  return {
    ...sample, id: randomUUID(), account: bucket.account, region: bucket.region, time,
    detail: {
      ...sample.detail, eventName: bucket.eventName, eventID: randomUUID(), eventTime: time, awsRegion: bucket.region, recipientAccountId: bucket.account,
      userIdentity: { type: 'AssumedRole', arn: `arn:aws:sts::${bucket.account}:assumed-role/ci-deploy/demo`, accountId: bucket.account,
        sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${bucket.account}:role/ci-deploy`, accountId: bucket.account } } },
      requestParameters: { bucketName: bucket.name, Host: `${bucket.name}.s3.${bucket.region}.amazonaws.com` },
      resources: [{ accountId: bucket.account, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${bucket.name}` }],
    },
  };
};

/** Findings and ignored events, kept for the tables instead of logged. */
const collectingSink = () => {
  const findings: Finding[] = [];
  const ignored: string[] = [];
  const sink: FindingSink = {
    finding: (finding) => { findings.push(finding); },
    ignored: (reason) => { ignored.push(reason); },
    notEvaluated: () => undefined,
    retrying: () => undefined,
    flush: async () => undefined,
  };
  return { sink, findings, ignored };
};

const main = async (): Promise<void> => {
  const started = Date.now();
  console.log('Starting the local AWS emulator (moto server)…');
  const emulator = await startEmulator();
  try {
    const { endpoint } = emulator;
    const credentials = new Map<string, AwsCredentialIdentity | undefined>([[HUB_ACCOUNT, undefined]]);
    for (const account of [...MEMBERS, WITHOUT_ROLE, OUTSIDE]) credentials.set(account, await accountCredentials(endpoint, account));
    for (const account of MEMBERS) await createMemberRole(endpoint, credentials.get(account)!, ROLE_NAME);
    for (const bucket of FLEET) {
      const s3 = accountS3(endpoint, credentials.get(bucket.account), bucket.region);
      await s3.send(new CreateBucketCommand({ Bucket: bucket.name, ...(bucket.region !== 'us-east-1' ? { CreateBucketConfiguration: { LocationConstraint: bucket.region as 'eu-west-1' } } : {}) }));
      if (bucket.encryption) await s3.send(new PutBucketEncryptionCommand({ Bucket: bucket.name, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: bucket.encryption }] } }));
      if (bucket.tags) await s3.send(new PutBucketTaggingCommand({ Bucket: bucket.name, Tagging: { TagSet: Object.entries(bucket.tags).map(([Key, Value]) => ({ Key, Value })) } }));
    }
    const queueUrl = await createHubStorage(endpoint, TABLE, QUEUE);
    console.log(`Hub ${HUB_ACCOUNT} (${HUB_REGION}); member role ${ROLE_NAME} at /s3-encryption-guard/ in ${MEMBERS.join(' and ')}, not in ${WITHOUT_ROLE}; ${OUTSIDE} is outside memberAccounts.`);
    console.log(`Created ${FLEET.length} buckets in ${new Set(FLEET.map((b) => b.account)).size} accounts and 2 regions; account mode SSE_S3.\n`);

    // The functions read their configuration at load, as a Lambda container does at cold start.
    Object.assign(process.env, emulatorEnv(endpoint), {
      AWS_REGION: HUB_REGION, ENCRYPTION_MODE: 'SSE_S3', ORGANIZATION: 'hub', MEMBER_ACCOUNTS: [...MEMBERS, WITHOUT_ROLE].join(','), MEMBER_ROLE_NAME: ROLE_NAME,
      FLAP_TABLE: TABLE, SWEEP_WORK_QUEUE_NAME: QUEUE,
      POWERTOOLS_LOG_LEVEL: process.env.DEMO_LOGS === 'true' ? 'INFO' : 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true',
    });
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { createBucketEventHandler } = require('../handlers/bucket-event') as typeof import('../handlers/bucket-event');
    const { createSweepHandler } = require('../handlers/sweep') as typeof import('../handlers/sweep');
    const { createSweepWorker } = require('../handlers/sweep-worker') as typeof import('../handlers/sweep-worker');
    const { createGuard } = require('../lib/guard') as typeof import('../lib/guard');
    const { hubFactory } = require('../lib/organization/hub') as typeof import('../lib/organization/hub');
    const { createSweepProgress } = require('../lib/organization/sweep-progress') as typeof import('../lib/organization/sweep-progress');
    const { sweepQueueSender } = require('../lib/organization/sweep-queue') as typeof import('../lib/organization/sweep-queue');
    const { createWarningMemory } = require('../lib/warning-memory') as typeof import('../lib/warning-memory');
    /* eslint-enable @typescript-eslint/no-require-imports */

    /** One function container: its guard, whose STS client refuses absent roles as AWS does, and its hub. */
    const container = () => {
      const guard = createGuard();
      refuseAbsentRoles(guard.sts(guard.homeRegion), endpoint);
      serialiseItemWrites(guard.dynamodb(guard.homeRegion));
      return { guard, hubOf: hubFactory(guard)! };
    };

    // 1. Events, as the settle queue hands them to enforceBucket.
    const events = collectingSink();
    const enforce = container();
    const enforceBucket = createBucketEventHandler(enforce.guard, events.sink, enforce.hubOf);
    const sample = JSON.parse(readFileSync(join(__dirname, '..', 'events', 'create-bucket.json'), 'utf8')) as { detail: Record<string, unknown> };
    const rows: string[][] = [];
    for (const bucket of FLEET) {
      const result = await enforceBucket(eventFor(sample, bucket), { invokedFunctionArn: `${FUNCTION_ARN}enforceBucket` }) as BareEventResult;
      const f = result.finding;
      rows.push(f ? [f.account, f.region, f.bucket, f.verdict, f.action, changed(f), why(f)]
        : [bucket.account, bucket.region, bucket.name, '—', 'ignored', 'unchanged', result.ignored ?? result.notEvaluated ?? '']);
    }
    console.log('1. Each bucket\'s CloudTrail event, delivered to the hub\'s enforceBucket');
    console.log(table([['account', 'region', 'bucket', 'verdict', 'action', 'what changed', 'why'], ...rows]));
    const stsCalls = enforce.guard.calls['STS.AssumeRole'] ?? 0;
    console.log(`\nSTS AssumeRole calls: ${stsCalls}, one per member account (the third refused): credentials are cached per account until near expiry, a refusal for a minute.`);

    // 2. Drift no event reports (the trail missed it): the sweep finds it.
    await accountS3(endpoint, credentials.get('222222222222'), 'us-east-1').send(new DeleteBucketEncryptionCommand({ Bucket: 'demo-org-a2-aws-kms' }));
    console.log('\n2. Someone removes demo-org-a2-aws-kms\'s default encryption and the event is lost; an organisation sweep runs.');
    const sweep = collectingSink();
    let summary: OrgSweepSummary | undefined;
    const log = (message: string, details: object): void => {
      if (message === 'sweep completed') summary = (details as { summary: OrgSweepSummary }).summary;
    };
    const runtime = (guard: ReturnType<typeof container>['guard'], hubOf: ReturnType<typeof container>['hubOf']) => ({
      hubOf,
      progress: createSweepProgress(() => guard.dynamodb(guard.homeRegion), TABLE),
      send: sweepQueueSender(() => guard.sqs(guard.homeRegion), QUEUE),
    });
    const coordinator = container();
    const start = createSweepHandler(coordinator.guard, sweep.sink, {
      handOver: () => Promise.reject(new Error('the hub\'s sweep never continues itself')), log, org: runtime(coordinator.guard, coordinator.hubOf),
    });
    const fanned = await start({}, { invokedFunctionArn: `${FUNCTION_ARN}sweepBuckets` }) as FannedOut;
    console.log(`sweepBuckets: ${fanned.status}, ${fanned.accounts} account messages for sweep ${fanned.sweepId} (the hub's own account and each listed member).`);
    const workers = Array.from({ length: WORKERS }, () => {
      const { guard, hubOf } = container();
      const worker = createSweepWorker(guard, sweep.sink, {
        ...runtime(guard, hubOf), log,
        warningMemory: createWarningMemory(() => guard.dynamodb(guard.homeRegion), TABLE, () => undefined),
      });
      return (event: Parameters<typeof worker>[0]) => worker(event, { invokedFunctionArn: `${FUNCTION_ARN}sweepWorker` });
    });
    const invocations = await drainSweepQueue({ endpoint, queueUrl, workers, completed: () => summary !== undefined });
    const byKind = (kind: string) => invocations.filter((i) => i.kind === kind).length;
    console.log(`sweepWorker (${WORKERS} containers): ${byKind('account')} account messages, ${byKind('page')} page messages, ${invocations.filter((i) => i.failed).length} failed.\n`);
    const attention = sweep.findings.filter((f) => f.verdict !== 'COMPLIANT' || f.action !== 'NONE');
    console.log('Findings that need attention (compliant buckets are counted, not logged):');
    // No region column: the emulator's ListBuckets gives no BucketRegion (AWS does), so the sweep reports the hub's.
    console.log(table([['account', 'bucket', 'verdict', 'action', 'what changed', 'why'],
      ...attention.map((f) => [f.account, f.bucket, f.verdict, f.action, changed(f), why(f)])]));
    if (!summary) throw new Error('the sweep did not complete');
    const counts = (record: Record<string, number>): string => Object.entries(record).map(([name, n]) => `${n} ${name}`).join(', ');
    console.log(`\nSweep completed (logged once, by the worker that found nothing pending): ${summary.accounts} accounts (${summary.unreachableAccounts} unreachable), `
      + `${summary.pages} pages, ${summary.buckets} buckets in ${(summary.durationMs / 1000).toFixed(1)} s.`);
    console.log(`Verdicts: ${counts(summary.verdicts)}.\nActions:  ${counts(summary.actions)}.`);
    const covered = new Set(sweep.findings.filter((f) => f.bucket !== '*').map((f) => f.bucket));
    const expected = FLEET.filter((b) => b.account !== WITHOUT_ROLE && b.account !== OUTSIDE).map((b) => b.name);
    const missing = expected.filter((name) => !covered.has(name));
    console.log(`Every bucket of a reachable account evaluated exactly once: ${missing.length === 0 && covered.size === sweep.findings.filter((f) => f.bucket !== '*').length ? 'yes' : `NO (missing ${missing.join(', ')})`}; `
      + `${OUTSIDE}'s bucket never touched.`);
    if (missing.length > 0) process.exitCode = 1;
    console.log(`\nDone in ${((Date.now() - started) / 1000).toFixed(1)} s. Run \`DEMO_LOGS=true npm run demo:org\` to see the log lines too.`);
  } finally {
    await emulator.stop();
  }
};

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack ?? error.message : error);
  process.exitCode = 1;
});
