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

export const batchRoleArn = (stack: BatchStack, keyArn: string, accountId: string): string =>
  `arn:${parseKeyArn(keyArn)?.partition ?? 'aws'}:iam::${accountId}:role/${stack.roleName}`;
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

export interface JobOutcome {
  jobId: string;
  status: string;
  finished: boolean;
  tasks: { total: number; succeeded: number; failed: number };
  /** Why the job itself failed, as S3 says (FailureReasons). */
  failureReasons: string[];
  /** Where the completion report with each failed object's reason is written. */
  report?: string;
}

export const jobOutcome = (job: JobDescriptor): JobOutcome => {
  const progress = job.ProgressSummary ?? {};
  return {
    jobId: job.JobId ?? 'unknown',
    status: job.Status ?? 'unknown',
    finished: isTerminal(job.Status),
    tasks: { total: progress.TotalNumberOfTasks ?? 0, succeeded: progress.NumberOfTasksSucceeded ?? 0, failed: progress.NumberOfTasksFailed ?? 0 },
    failureReasons: (job.FailureReasons ?? []).map((reason) => `${reason.FailureCode ?? 'Unknown'}: ${reason.FailureReason ?? ''}`.trim()),
    ...(job.Report?.Enabled && job.Report.Bucket ? { report: `${job.Report.Bucket.replace(/^arn:[a-z-]+:s3:::/, 's3://')}/${job.Report.Prefix ?? ''}/job-${job.JobId}/` } : {}),
  };
};
