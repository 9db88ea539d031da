/**
 * One queue message: one listing page of one bucket. Composes the pure decisions (coverage, classify,
 * estimate, batch-plan) with the adapters (objects, batch-operations), injected as `ReencryptDeps`.
 *
 * Each message checks afresh what may have changed since the hand-over: the bucket's tags (its mode and
 * re-keying setting), and — before any change — the listed key, with an uncached DescribeKey.
 */
import { BucketGoneError, type BucketRef, readPolicy, readTags, type S3ForRegion, unlessDenied } from '../bucket-state';
import { isNoSuchBucket } from '../aws-errors';
import type { GuardConfig } from '../config';
import type { Violation } from '../evaluate';
import { type KeyFacts, keyProblems } from '../key-checks';
import { rekeyBlockers, unknownOutsiders } from '../kms-rewrite';
import { type EncryptionMode, KMS_MODES, KMS_REWRITE_TAG } from '../modes';
import { outsideAccess } from '../policy/outside-access';
import { resolveRequirement } from '../requirement';
import {
  type BatchStack, batchRoleArn, type JobOutcome, type JobPlanInput, jobOutcome, type ListedJob, nextJobStep, reportBucketName,
} from './batch-plan';
import { reencryptCoverage, type Target, targetFor } from './coverage';
import { estimateCost, failures } from './estimate';
import type { ReencryptMessage } from './message';
import { headObject, listObjectPage, type ObjectPage, PAGE_SIZE, updateObjectEncryption } from './objects';
import { countsOf, type ReencryptFinding } from './report';
import { FAILURE_SAMPLES, rekeyPage } from './rekey-page';

export interface BatchDeps {
  /** The stack's Batch Operations role and report bucket; absent when not deployed. */
  stack?: BatchStack;
  createJob: (region: string, plan: JobPlanInput) => Promise<string>;
  /** The guard's jobs for a bucket (any state), newest first. */
  jobsFor: (region: string, accountId: string, bucket: string) => Promise<ListedJob[]>;
  describe: (region: string, accountId: string, jobId: string) => Promise<JobOutcome>;
}

export interface ReencryptDeps {
  config: GuardConfig;
  /** The stack's region: its report bucket is there, so Batch Operations jobs can run only there. */
  homeRegion: string;
  s3: S3ForRegion;
  /** Uncached: a key disabled a minute ago must stop the re-keying now. */
  describeKeyFresh: (keyArn: string, region: string) => Promise<KeyFacts>;
  batch: BatchDeps;
  /** Objects read or re-keyed at once. */
  concurrency: number;
  /** Objects per listing page (and queue message): at most 1000, S3's page. */
  pageSize: number;
  /** Hands the next page to the queue. */
  enqueue: (message: ReencryptMessage) => Promise<void>;
  /** Identifies this delivery (SQS message id): the Batch job request's idempotency token. */
  requestId: string;
  now: () => number;
}

export type MessageResult =
  | { status: 'continued'; next: ReencryptMessage; before: ReencryptMessage['tally'] }
  | { status: 'finished'; finding: ReencryptFinding; before: ReencryptMessage['tally'] };

export const runReencryptMessage = async (message: ReencryptMessage, deps: ReencryptDeps): Promise<MessageResult> => {
  const { config } = deps;
  const ref: BucketRef = { bucket: message.bucket, region: message.region, owner: message.accountId };
  const base = { schemaVersion: 1 as const, bucket: message.bucket, account: message.accountId, region: message.region, trigger: message.trigger };
  const finish = (fields: Omit<ReencryptFinding, keyof typeof base>): MessageResult =>
    ({ status: 'finished', before: message.tally, finding: { ...base, ...fields, pages: message.pages, durationMs: deps.now() - message.startedAt } });

  let tags: Record<string, string>;
  try {
    tags = await readTags(deps.s3, ref);
  } catch (error) {
    if (isNoSuchBucket(error) || error instanceof BucketGoneError) return finish({ outcome: 'SKIPPED', detail: 'the bucket no longer exists' });
    throw error;
  }
  const requirement = resolveRequirement(message.bucket, tags, config);
  if (requirement.kind !== 'mode' || !KMS_MODES.has(requirement.mode)) {
    return finish({ outcome: 'SKIPPED', detail: requirement.kind === 'exempt' ? `exempt: ${requirement.reason}` : 'the bucket is no longer in a KMS mode' });
  }
  const coverage = reencryptCoverage(tags, config);
  const known = { mode: requirement.mode, setting: coverage.setting, settingSource: coverage.source, ...(coverage.invalidTag ? { detail: `tag value "${coverage.invalidTag}" is not off, report or enforce: the account setting applies` } : {}) };
  if (coverage.setting === 'off') return finish({ ...known, outcome: 'SKIPPED', detail: 'off for this bucket (tag)' });

  const target: Target = targetFor(requirement.mode, message.region, message.accountId, config);
  const enforce = coverage.setting === 'enforce' && target.kind === 'kms';
  if (enforce && target.kind === 'kms') {
    const [key, blockers] = await Promise.all([
      deps.describeKeyFresh(target.keyArn, message.region),
      requirement.kmsRewriteAccepted ? [] : readersLockedOut(deps, ref, requirement.mode, target.keyArn),
    ]);
    const problems = keyProblems(key, message.region, true);
    if (problems.length > 0) return finish({ ...known, target, outcome: 'ERROR', detail: `${problems.join('; ')}: no object re-keyed` });
    if (blockers.length > 0) {
      return finish({ ...known, target, outcome: 'SKIPPED', violations: blockers, detail: `no object re-keyed: ${blockers.map((v) => v.code).join(', ')} (tag ${KMS_REWRITE_TAG}=accept to go ahead)` });
    }
  }

  let page: ObjectPage | undefined;
  if (!message.cursor && enforce && target.kind === 'kms') {
    const probe = await probeSize(deps, ref, config.reencrypt.inlineMaxObjects);
    if (probe.large) return finish({ ...known, target, path: 'batch', ...(await startJob(deps, message, target)) });
    page = probe.first;
  }
  page ??= await listObjectPage(deps.s3, ref, config.reencrypt.versions, message.cursor, deps.pageSize);

  // Report mode stops after a sample of `reencryptInlineMaxObjects` objects: a pass never walks a whole large bucket.
  const objects = enforce ? page.objects : page.objects.slice(0, Math.max(0, config.reencrypt.inlineMaxObjects - message.tally.listed.objects));
  const sampled = !enforce && (objects.length < page.objects.length || (page.next !== undefined && message.tally.listed.objects + objects.length >= config.reencrypt.inlineMaxObjects));
  const { tally, failedObjects } = await rekeyPage({ objects, enforce, target }, message.tally, {
    head: (object) => headObject(deps.s3, ref, object),
    update: (key, versionId) => updateObjectEncryption(deps.s3, ref, key, versionId, target as Extract<Target, { kind: 'kms' }>),
    concurrency: deps.concurrency,
  });
  const failed = [...message.failedObjects, ...failedObjects].slice(0, FAILURE_SAMPLES);
  if (page.next && !sampled) {
    const next: ReencryptMessage = { ...message, cursor: page.next, pages: message.pages + 1, tally, failedObjects: failed };
    await deps.enqueue(next);
    return { status: 'continued', next, before: message.tally };
  }
  const outcome = !enforce ? 'ESTIMATED' : failures(tally) > 0 ? 'PARTIAL' : 'REENCRYPTED';
  return {
    status: 'finished', before: message.tally,
    finding: {
      ...base, ...known, target, path: 'inline', outcome, tally, ...countsOf(tally), estimate: estimateCost(tally, sampled),
      ...(sampled ? { detail: `a sample: the first ${tally.listed.objects} objects (${tally.listed.bytes} bytes) listed; the bucket holds more, which report mode does not list (reencryptInlineMaxObjects); counts and estimate cover the sample only` } : {}),
      ...(failed.length > 0 ? { failedObjects: failed } : {}), pages: message.pages + 1, durationMs: deps.now() - message.startedAt,
    },
  };
};

/** Lists (keys only) until the bucket shows more than `limit` objects, or ends; the first page is kept for the pass. */
const probeSize = async (deps: ReencryptDeps, ref: BucketRef, limit: number): Promise<{ large: boolean; first: ObjectPage }> => {
  const first = await listObjectPage(deps.s3, ref, deps.config.reencrypt.versions, undefined, deps.pageSize);
  let seen = first.objects.length;
  let cursor = first.next;
  while (cursor && seen <= limit) {
    const page = await listObjectPage(deps.s3, ref, deps.config.reencrypt.versions, cursor, PAGE_SIZE);
    seen += page.objects.length;
    cursor = page.next;
  }
  return { large: seen > limit, first };
};

/**
 * Who outside the account would lose the objects if they moved to the key (the bucket policy, read afresh
 * each message: it may change mid-pass). Object ACL grants are not visible here.
 */
const readersLockedOut = async (deps: ReencryptDeps, ref: BucketRef, mode: EncryptionMode, keyArn: string): Promise<Violation[]> => {
  const policy = await unlessDenied(readPolicy(deps.s3, ref));
  return policy === undefined
    ? [unknownOutsiders(mode, 'its objects are not re-keyed', 'objects left as they are')]
    : rekeyBlockers(outsideAccess(policy, ref.owner), mode, keyArn);
};

type JobFields = Omit<ReencryptFinding, 'schemaVersion' | 'bucket' | 'account' | 'region' | 'trigger'>;

/** One job per bucket and key at a time; see nextJobStep for when another follows. */
const startJob = async (deps: ReencryptDeps, message: ReencryptMessage, target: Extract<Target, { kind: 'kms' }>): Promise<JobFields> => {
  const { stack } = deps.batch;
  if (!stack) {
    return { outcome: 'ERROR', detail: 'the bucket has more objects than reencryptInlineMaxObjects, and the stack has no Batch Operations role or report bucket (REENCRYPT_BATCH_ROLE_NAME, REENCRYPT_REPORT_BUCKET_PREFIX)' };
  }
  if (message.region !== deps.homeRegion) {
    return { outcome: 'ERROR', detail: `the bucket has more objects than reencryptInlineMaxObjects and is in ${message.region}: Batch Operations jobs run in the stack's region (${deps.homeRegion}), where its report bucket is; large buckets outside it need a stack deployed in ${message.region}` };
  }
  const jobs = (await deps.batch.jobsFor(message.region, message.accountId, message.bucket)).filter((job) => job.keyArn === target.keyArn);
  const step = nextJobStep(jobs, deps.now());
  switch (step.kind) {
    case 'running':
      return { outcome: 'JOB_RUNNING', detail: `Batch Operations job ${step.job.jobId} is re-keying the bucket (${step.job.status})`, job: await deps.batch.describe(message.region, message.accountId, step.job.jobId) };
    case 'done':
      return { outcome: 'SKIPPED', detail: `Batch Operations job ${step.job.jobId} already ran for ${target.keyArn} (${step.job.status}; its outcome is reported by the sweep): no new job while S3 lists it (90 days)` };
    case 'wait':
      return { outcome: 'SKIPPED', detail: `Batch Operations job ${step.job.jobId} failed (reported by the sweep); the next attempt is after ${new Date(step.retryAt).toISOString()}` };
    case 'start': {
      const jobId = await deps.batch.createJob(message.region, {
        bucket: message.bucket, accountId: message.accountId, keyArn: target.keyArn, bucketKeyEnabled: target.bucketKeyEnabled, requestId: deps.requestId,
        roleArn: batchRoleArn(stack, target.keyArn, message.accountId), reportBucket: reportBucketName(stack, message.accountId, message.region),
      });
      return {
        outcome: 'JOB_STARTED', job: jobOutcome({ JobId: jobId, Status: 'New' }),
        detail: `Batch Operations job ${jobId} started${step.retryOf ? ` (job ${step.retryOf.jobId} failed)` : ''}; the sweep reports its progress and outcome`,
      };
    }
  }
};
