/**
 * S3 Batch Operations for large buckets: the `CreateJob` request, and what a job's state means for the
 * finding. Pure; lib/reencrypt/batch-operations.ts sends the requests.
 *
 * - https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-update-encryption.html (operation, MatchAnyObjectEncryption)
 * - https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_CreateJob.html
 * - https://docs.aws.amazon.com/AmazonS3/latest/API/API_control_JobManifestGeneratorFilter.html
 */
import type { CreateJobCommandInput, JobDescriptor, JobStatus } from '@aws-sdk/client-s3-control';
import { createHash } from 'node:crypto';
import { parseKeyArn } from '../kms-arn';
import { guardRoleArnPrefix } from '../organization/names';

/** Every job the guard creates is described so; ListJobs finds them by it (the bucket follows, then the key). */
export const JOB_DESCRIPTION_PREFIX = 's3-encryption-guard:reencrypt';
/** The tag the sweep puts on a finished job once its outcome is a finding. */
export const REPORTED_TAG = 'encryption-guard:reported';

/**
 * The stack's Batch Operations role and report bucket, by name (the functions get names, not Refs, so that
 * `serverless invoke local` works): the role's ARN and the bucket's name follow from the account and region.
 */
export interface BatchStack {
  roleName: string;
  /** The report bucket is `<prefix>-<account>-<region>` (bucket names are global). */
  reportBucketPrefix: string;
}

/** The role lives at the guard's IAM path, as every guard role does (resources/reencrypt.cjs). */
export const batchRoleArn = (stack: BatchStack, keyArn: string, accountId: string): string =>
  `${guardRoleArnPrefix(parseKeyArn(keyArn)?.partition ?? 'aws', accountId)}${stack.roleName}`;
export const reportBucketName = (stack: BatchStack, accountId: string, region: string): string => `${stack.reportBucketPrefix}-${accountId}-${region}`;

export interface JobPlanInput {
  bucket: string;
  accountId: string;
  keyArn: string;
  bucketKeyEnabled: boolean;
  roleArn: string;
  reportBucket: string;
  /** Same request, same token: a redelivered message does not create a second job. */
  requestId: string;
}

export const jobDescription = (bucket: string, keyArn: string): string => `${JOB_DESCRIPTION_PREFIX} ${bucket} ${keyArn}`;

/** The bucket and key a guard job description names, or undefined for any other job. */
export const parseJobDescription = (description: string | undefined): { bucket: string; keyArn: string } | undefined => {
  const [prefix, bucket, keyArn, ...rest] = (description ?? '').split(' ');
  return prefix === JOB_DESCRIPTION_PREFIX && bucket && keyArn && rest.length === 0 ? { bucket, keyArn } : undefined;
};

export const REPORT_PREFIX = 'reencrypt';

export const createJobInput = (plan: JobPlanInput): CreateJobCommandInput => {
  const partition = parseKeyArn(plan.keyArn)?.partition ?? 'aws';
  return {
    AccountId: plan.accountId,
    ConfirmationRequired: false,
    Priority: 10,
    RoleArn: plan.roleArn,
    ClientRequestToken: createHash('sha256').update(`${plan.bucket}\n${plan.keyArn}\n${plan.requestId}`).digest('hex').slice(0, 64),
    Description: jobDescription(plan.bucket, plan.keyArn),
    Operation: { S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: plan.keyArn, BucketKeyEnabled: plan.bucketKeyEnabled } } } },
    // The generator lists the bucket itself, keeping only what UpdateObjectEncryption accepts: SSE-S3 and
    // SSE-KMS. A filter cannot say "not on this key", so objects already on it are re-applied (harmless).
    ManifestGenerator: {
      S3JobManifestGenerator: {
        ExpectedBucketOwner: plan.accountId,
        SourceBucket: `arn:${partition}:s3:::${plan.bucket}`,
        EnableManifestOutput: false,
        Filter: { MatchAnyObjectEncryption: [{ SSES3: {} }, { SSEKMS: {} }] },
      },
    },
    Report: {
      Enabled: true,
      Bucket: `arn:${partition}:s3:::${plan.reportBucket}`,
      ExpectedBucketOwner: plan.accountId,
      Format: 'Report_CSV_20180820',
      Prefix: `${REPORT_PREFIX}/${plan.bucket}`,
      ReportScope: 'FailedTasksOnly',
    },
  };
};

export const TERMINAL_STATUSES: ReadonlySet<JobStatus> = new Set(['Complete', 'Failed', 'Cancelled']);
/** A job in any other state still runs (or waits): no second job for the bucket. */
export const isTerminal = (status: JobStatus | undefined): boolean => status !== undefined && TERMINAL_STATUSES.has(status);

/** A job-level failure (`Failed`) is retried at most once per this interval, per bucket and key. */
export const JOB_RETRY_INTERVAL_MS = 7 * 24 * 60 * 60 * 1000;

/** One of the guard's jobs as ListJobs shows it (times in ms). */
export interface ListedJob {
  jobId: string;
  status?: string;
  keyArn: string;
  createdAt?: number;
  endedAt?: number;
}

export type JobStep =
  | { kind: 'running'; job: ListedJob }
  /** `Complete` (its failed tasks were reported once by the sweep) or `Cancelled` (someone stopped it). */
  | { kind: 'done'; job: ListedJob }
  | { kind: 'wait'; job: ListedJob; retryAt: number }
  | { kind: 'start'; retryOf?: ListedJob };

/**
 * Whether to start a job for a bucket and key, given the guard's jobs for them. A new job would list and
 * re-key every object again (its filter cannot leave out those already on the key), so one that completed
 * counts as done whatever its failed tasks; only a job that failed as a whole is retried, and not within
 * JOB_RETRY_INTERVAL_MS of the last failure. S3 lists jobs for 90 days.
 */
export const nextJobStep = (jobs: readonly ListedJob[], now: number): JobStep => {
  const running = jobs.find((job) => !isTerminal(job.status as JobStatus | undefined));
  if (running) return { kind: 'running', job: running };
  const done = jobs.find((job) => job.status === 'Complete' || job.status === 'Cancelled');
  if (done) return { kind: 'done', job: done };
  // A failure without a date (ListJobs always gives CreationTime) counts as just now: never a retry loop.
  const failedAt = (job: ListedJob): number => job.endedAt ?? job.createdAt ?? now;
  const failed = jobs.filter((job) => job.status === 'Failed').sort((a, b) => failedAt(b) - failedAt(a))[0];
  if (!failed) return { kind: 'start' };
  const retryAt = failedAt(failed) + JOB_RETRY_INTERVAL_MS;
  return retryAt > now ? { kind: 'wait', job: failed, retryAt } : { kind: 'start', retryOf: failed };
};

export interface JobOutcome {
  jobId: string;
  status: string;
  finished: boolean;
  tasks: { total: number; succeeded: number; failed: number };
  /** Why the job itself failed, as S3 says (FailureReasons). */
  failureReasons: string[];
  /** Where the completion report with each failed object's reason is written. */
  report?: string;
  /** The same, as the report bucket and the key of its manifest. */
  reportManifest?: { bucket: string; key: string };
}

export const jobOutcome = (job: JobDescriptor): JobOutcome => {
  const progress = job.ProgressSummary ?? {};
  return {
    jobId: job.JobId ?? 'unknown',
    status: job.Status ?? 'unknown',
    finished: isTerminal(job.Status),
    tasks: { total: progress.TotalNumberOfTasks ?? 0, succeeded: progress.NumberOfTasksSucceeded ?? 0, failed: progress.NumberOfTasksFailed ?? 0 },
    failureReasons: (job.FailureReasons ?? []).map((reason) => `${reason.FailureCode ?? 'Unknown'}: ${reason.FailureReason ?? ''}`.trim()),
    ...(job.Report?.Enabled && job.Report.Bucket ? {
      report: `${job.Report.Bucket.replace(/^arn:[a-z-]+:s3:::/, 's3://')}/${job.Report.Prefix ?? ''}/job-${job.JobId}/`,
      reportManifest: { bucket: job.Report.Bucket.replace(/^arn:[a-z-]+:s3:::/, ''), key: `${job.Report.Prefix ? `${job.Report.Prefix}/` : ''}job-${job.JobId}/manifest.json` },
    } : {}),
  };
};
