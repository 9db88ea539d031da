/**
 * S3 Control adapter for the guard's Batch Operations jobs: create, find, describe, mark as reported; and
 * the S3 reads of a finished job's completion report.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { JobDescriptor, JobListDescriptor, S3ControlClient } from '@aws-sdk/client-s3-control';
import { isTransient } from '../aws-errors';
import { s3ControlSdk } from '../sdk';
import { createJobInput, type JobOutcome, type JobPlanInput, jobOutcome, parseJobDescription, REPORTED_TAG } from './batch-plan';
import { failedResultFiles, failedTasks, type FailureSummary, summariseFailures } from './completion-report';
import type { TrackDeps } from './track-jobs';

/** Result files read per job, and bytes read of each: enough for the reasons, bounded for a huge job. */
const REPORT_FILES_READ = 5;
const REPORT_BYTES_READ = 1024 * 1024;

/** The failed tasks' reasons from a finished job's completion report (in the stack's own report bucket). */
export const readFailures = async (s3: S3Client, owner: string, outcome: JobOutcome): Promise<FailureSummary | undefined> => {
  if (!outcome.reportManifest) return undefined;
  const read = async (bucket: string, key: string): Promise<string> => {
    const { Body } = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, ExpectedBucketOwner: owner, Range: `bytes=0-${REPORT_BYTES_READ - 1}` }));
    return Body ? Body.transformToString() : '';
  };
  try {
    const files = failedResultFiles(await read(outcome.reportManifest.bucket, outcome.reportManifest.key)).slice(0, REPORT_FILES_READ);
    const tasks = (await Promise.all(files.map((file) => read(file.bucket, file.key)))).flatMap(failedTasks);
    return summariseFailures(tasks);
  } catch (error) {
    if (isTransient(error)) throw error;
    return undefined; // the finding still names the report's location
  }
};

export type S3ControlForRegion = (region: string) => S3ControlClient;

export const createJob = async (control: S3ControlClient, plan: JobPlanInput): Promise<string> => {
  const { JobId } = await control.send(new (s3ControlSdk().CreateJobCommand)(createJobInput(plan)));
  if (!JobId) throw new Error('CreateJob returned no job id');
  return JobId;
};

/** The guard's re-keying jobs of the last 90 days (as long as S3 lists jobs), with the bucket each is for. */
export const guardJobs = async (control: S3ControlClient, accountId: string): Promise<Array<JobListDescriptor & { bucket: string; keyArn: string }>> => {
  const found: Array<JobListDescriptor & { bucket: string; keyArn: string }> = [];
  for await (const page of s3ControlSdk().paginateListJobs({ client: control }, { AccountId: accountId })) {
    for (const job of page.Jobs ?? []) {
      const named = parseJobDescription(job.Description);
      if (named && job.JobId) found.push({ ...job, ...named });
    }
  }
  return found;
};

export const describeJob = async (control: S3ControlClient, accountId: string, jobId: string): Promise<JobDescriptor> => {
  const { Job } = await control.send(new (s3ControlSdk().DescribeJobCommand)({ AccountId: accountId, JobId: jobId }));
  return Job ?? { JobId: jobId };
};

export const isReported = async (control: S3ControlClient, accountId: string, jobId: string): Promise<boolean> => {
  const { Tags = [] } = await control.send(new (s3ControlSdk().GetJobTaggingCommand)({ AccountId: accountId, JobId: jobId }));
  return Tags.some((tag) => tag.Key === REPORTED_TAG);
};

/** PutJobTagging replaces the job's tags: the others are kept. */
export const markReported = async (control: S3ControlClient, accountId: string, jobId: string): Promise<void> => {
  const { Tags = [] } = await control.send(new (s3ControlSdk().GetJobTaggingCommand)({ AccountId: accountId, JobId: jobId }));
  await control.send(new (s3ControlSdk().PutJobTaggingCommand)({
    AccountId: accountId, JobId: jobId, Tags: [...Tags.filter((tag) => tag.Key !== REPORTED_TAG), { Key: REPORTED_TAG, Value: 'true' }],
  }));
};

/** The sweep's job tracking (track-jobs.ts) against S3 Control, in the sweep's region. */
export const jobTrackingDeps = (control: S3ControlClient, s3: S3Client, accountId: string, region: string, bucketKeyEnabled: boolean): TrackDeps => ({
  region, accountId, bucketKeyEnabled,
  failures: (outcome) => readFailures(s3, accountId, outcome),
  jobs: async () => (await guardJobs(control, accountId)).map((job) => ({ jobId: job.JobId!, bucket: job.bucket, keyArn: job.keyArn, ...(job.Status ? { status: job.Status } : {}) })),
  describe: async (jobId) => jobOutcome(await describeJob(control, accountId, jobId)),
  isReported: (jobId) => isReported(control, accountId, jobId),
  markReported: (jobId) => markReported(control, accountId, jobId),
});
