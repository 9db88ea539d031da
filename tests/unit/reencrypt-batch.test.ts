/**
 * The Batch Operations path for large buckets, with aws-sdk-client-mock: the exact CreateJob request
 * (manifest generator and its filter, the operation, the report, the role), one job per bucket and key,
 * and the sweep's tracking of jobs through DescribeJob states.
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-update-encryption.html
 */
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetBucketPolicyCommand, GetBucketTaggingCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, UpdateObjectEncryptionCommand } from '@aws-sdk/client-s3';
import {
  CreateJobCommand, DescribeJobCommand, GetJobTaggingCommand, type JobStatus, ListJobsCommand, PutJobTaggingCommand, S3ControlClient,
} from '@aws-sdk/client-s3-control';
import { mockClient } from 'aws-sdk-client-mock';
import { reencryptDeps } from '../../handlers/reencrypt';
import { jobTrackingDeps } from '../../lib/reencrypt/batch-operations';
import { firstMessage } from '../../lib/reencrypt/message';
import { runReencryptMessage } from '../../lib/reencrypt/run';
import { trackJobs } from '../../lib/reencrypt/track-jobs';
import { s3Error, testGuard } from './aws-mocks';
import { ACCOUNT, configFor, KEYS, REGION } from './fixtures';

const s3 = mockClient(S3Client);
const kms = mockClient(KMSClient);
const control = mockClient(S3ControlClient);

const BUCKET = 'big-bucket';
/** The stack's Batch Operations role, at the guard's IAM path like every guard role (resources/reencrypt.cjs). */
const ROLE = `arn:aws:iam::${ACCOUNT}:role/s3-encryption-guard/guard-batch-operations`;
const REPORTS = `guard-rekey-${ACCOUNT}-${REGION}`;
const description = `s3-encryption-guard:reencrypt ${BUCKET} ${KEYS.listed}`;

const DAY = 24 * 60 * 60 * 1000;
const guard = () => testGuard(configFor('SSE_KMS_CUSTOMER_MANAGED', { reencrypt: { objects: 'enforce', inlineMaxObjects: 2, versions: 'current' } }));
const run = (batch: Parameters<typeof reencryptDeps>[1]['batch'] = { stack: { roleName: 'guard-batch-operations', reportBucketPrefix: 'guard-rekey' } }, region = REGION) =>
  runReencryptMessage(firstMessage({ bucket: BUCKET, region, account: ACCOUNT, trigger: { type: 'sweep', sweepId: 's1' } }, 0),
    reencryptDeps(guard(), { enqueue: async () => undefined, batch }, 'message-1'));

beforeEach(() => {
  s3.reset();
  kms.reset();
  control.reset();
  s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
  s3.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 404));
  // Three objects listed in pages of two: more than reencryptInlineMaxObjects (2).
  s3.on(ListObjectsV2Command).callsFake((input: { ContinuationToken?: string }) => (input.ContinuationToken === 't1'
    ? { Contents: [{ Key: 'c', Size: 1 }], IsTruncated: false }
    : { Contents: [{ Key: 'a', Size: 1 }, { Key: 'b', Size: 1 }], IsTruncated: true, NextContinuationToken: 't1' }));
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEYS.listed, AWSAccountId: ACCOUNT, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
  control.on(ListJobsCommand).resolves({ Jobs: [] });
  control.on(CreateJobCommand).resolves({ JobId: 'job-1' });
});

describe('a bucket larger than reencryptInlineMaxObjects goes to S3 Batch Operations', () => {
  it('creates one job: manifest generator filtered to SSE-S3 and SSE-KMS objects, UpdateObjectEncryption to the listed key, failed-task report, the stack\'s role', async () => {
    const result = await run();
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(1);
    const input = control.commandCalls(CreateJobCommand)[0].args[0].input;
    expect(input).toEqual({
      AccountId: ACCOUNT,
      ConfirmationRequired: false,
      Priority: 10,
      RoleArn: ROLE,
      ClientRequestToken: expect.stringMatching(/^[0-9a-f]{64}$/),
      Description: description,
      Operation: { S3UpdateObjectEncryption: { ObjectEncryption: { SSEKMS: { KMSKeyArn: KEYS.listed, BucketKeyEnabled: true } } } },
      ManifestGenerator: {
        S3JobManifestGenerator: {
          ExpectedBucketOwner: ACCOUNT,
          SourceBucket: `arn:aws:s3:::${BUCKET}`,
          EnableManifestOutput: false,
          Filter: { MatchAnyObjectEncryption: [{ SSES3: {} }, { SSEKMS: {} }] },
        },
      },
      Report: {
        Enabled: true, Bucket: `arn:aws:s3:::${REPORTS}`, ExpectedBucketOwner: ACCOUNT, Format: 'Report_CSV_20180820', Prefix: `reencrypt/${BUCKET}`, ReportScope: 'FailedTasksOnly',
      },
    });
    expect(result).toMatchObject({ status: 'finished', finding: { outcome: 'JOB_STARTED', path: 'batch', job: { jobId: 'job-1' } } });
    // No object is read or changed by the function itself.
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(0);
    expect(s3.commandCalls(UpdateObjectEncryptionCommand)).toHaveLength(0);
  });

  it('uses the same idempotency token for a redelivered message, so S3 creates no second job', async () => {
    await run();
    await run();
    const [first, second] = control.commandCalls(CreateJobCommand).map((call) => call.args[0].input.ClientRequestToken);
    expect(first).toBe(second);
  });

  it('creates no job while one of the guard\'s jobs for the bucket and key runs; reports its progress', async () => {
    control.on(ListJobsCommand).resolves({ Jobs: [{ JobId: 'job-0', Description: description, Status: 'Active' }, { JobId: 'other', Description: 'someone else\'s job', Status: 'Active' }] });
    control.on(DescribeJobCommand).resolves({ Job: { JobId: 'job-0', Status: 'Active', ProgressSummary: { TotalNumberOfTasks: 100, NumberOfTasksSucceeded: 40, NumberOfTasksFailed: 0 } } });
    expect(await run()).toMatchObject({ finding: { outcome: 'JOB_RUNNING', job: { jobId: 'job-0', tasks: { total: 100, succeeded: 40 } } } });
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(0);
  });

  it('creates no job once a job for that key completed, with or without failed tasks (the sweep reports those once); a job for another key does not count', async () => {
    control.on(ListJobsCommand).resolves({ Jobs: [
      { JobId: 'with-failures', Description: description, Status: 'Complete', ProgressSummary: { NumberOfTasksFailed: 3 } },
    ] });
    expect(await run()).toMatchObject({ finding: { outcome: 'SKIPPED', detail: expect.stringMatching(/job with-failures already ran/) } });
    control.on(ListJobsCommand).resolves({ Jobs: [{ JobId: 'stopped', Description: description, Status: 'Cancelled' }] });
    expect(await run()).toMatchObject({ finding: { outcome: 'SKIPPED', detail: expect.stringMatching(/job stopped already ran .*Cancelled/) } });
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(0);
    control.on(ListJobsCommand).resolves({ Jobs: [
      { JobId: 'old-key', Description: `s3-encryption-guard:reencrypt ${BUCKET} ${KEYS.otherOurs}`, Status: 'Complete', ProgressSummary: { NumberOfTasksFailed: 0 } },
    ] });
    expect(await run()).toMatchObject({ finding: { outcome: 'JOB_STARTED' } });
  });

  it('retries a job that failed as a whole at most once per 7 days, counted from its termination', async () => {
    const failed = (JobId: string, endedDaysAgo: number) => ({
      JobId, Description: description, Status: 'Failed' as const, CreationTime: new Date(Date.now() - (endedDaysAgo + 1) * DAY), TerminationDate: new Date(Date.now() - endedDaysAgo * DAY),
    });
    control.on(ListJobsCommand).resolves({ Jobs: [failed('recent', 6), failed('older', 20)] });
    expect(await run()).toMatchObject({ finding: { outcome: 'SKIPPED', detail: expect.stringMatching(/job recent failed .*next attempt is after \d{4}-/) } });
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(0);
    control.on(ListJobsCommand).resolves({ Jobs: [failed('week-old', 7.01), failed('older', 20)] });
    expect(await run()).toMatchObject({ finding: { outcome: 'JOB_STARTED', detail: expect.stringMatching(/job week-old failed/) } });
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(1);
  });

  it('is an ERROR, creating nothing, for a large bucket outside the stack\'s region: it needs a stack there', async () => {
    const west = configFor('SSE_KMS_CUSTOMER_MANAGED', { kmsKeyArns: [KEYS.listed, KEYS.listedWest] });
    kms.on(DescribeKeyCommand, { KeyId: KEYS.listedWest }).resolves({ KeyMetadata: { KeyId: 'w', Arn: KEYS.listedWest, AWSAccountId: ACCOUNT, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
    const result = await runReencryptMessage(firstMessage({ bucket: BUCKET, region: 'eu-west-1', account: ACCOUNT, trigger: { type: 'sweep', sweepId: 's1' } }, 0),
      reencryptDeps(testGuard({ ...west, reencrypt: { objects: 'enforce', inlineMaxObjects: 2, versions: 'current' } }),
        { enqueue: async () => undefined, batch: { stack: { roleName: 'guard-batch-operations', reportBucketPrefix: 'guard-rekey' } } }, 'message-1'));
    expect(result).toMatchObject({ finding: { outcome: 'ERROR', region: 'eu-west-1', detail: expect.stringMatching(/need a stack deployed in eu-west-1/) } });
    expect(control.commandCalls(ListJobsCommand)).toHaveLength(0);
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(0);
  });

  it('is an ERROR, creating nothing, when the stack has no Batch Operations role or report bucket', async () => {
    expect(await run({})).toMatchObject({ finding: { outcome: 'ERROR', detail: expect.stringMatching(/REENCRYPT_BATCH_ROLE_NAME/) } });
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(0);
  });

  it('never starts a job to an unusable key: a pending-deletion listed key is an ERROR before any listing', async () => {
    kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEYS.listed, AWSAccountId: ACCOUNT, KeyState: 'PendingDeletion', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
    expect(await run()).toMatchObject({ finding: { outcome: 'ERROR', detail: expect.stringMatching(/PendingDeletion/) } });
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(control.commandCalls(CreateJobCommand)).toHaveLength(0);
  });
});

describe('the sweep tracks the guard\'s jobs through DescribeJob', () => {
  const track = () => trackJobs(jobTrackingDeps(new S3ControlClient({ region: REGION }), new S3Client({ region: REGION }), ACCOUNT, REGION, true));
  const listJobs = (...jobs: Array<[string, JobStatus]>) =>
    control.on(ListJobsCommand).resolves({ Jobs: jobs.map(([JobId, Status]) => ({ JobId, Status, Description: `s3-encryption-guard:reencrypt bucket-${JobId} ${KEYS.listed}` })) });

  it.each<[JobStatus, string]>([['New', 'JOB_RUNNING'], ['Preparing', 'JOB_RUNNING'], ['Active', 'JOB_RUNNING'], ['Completing', 'JOB_RUNNING'], ['Suspended', 'JOB_RUNNING']])(
    'a job in state %s is %s, its progress reported every sweep, never tagged', async (status, outcome) => {
      listJobs(['j', status]);
      control.on(DescribeJobCommand).resolves({ Job: { JobId: 'j', Status: status, ProgressSummary: { TotalNumberOfTasks: 10, NumberOfTasksSucceeded: 4, NumberOfTasksFailed: 0 } } });
      expect(await track()).toEqual([expect.objectContaining({ bucket: 'bucket-j', outcome, detail: `4 of 10 objects re-keyed so far (${status})` })]);
      expect(control.commandCalls(PutJobTaggingCommand)).toHaveLength(0);
    });

  it('a completed job is reported once with its counts, then tagged as reported (its other tags kept)', async () => {
    listJobs(['j', 'Complete']);
    control.on(GetJobTaggingCommand).resolves({ Tags: [{ Key: 'team', Value: 'storage' }] });
    control.on(DescribeJobCommand).resolves({ Job: { JobId: 'j', Status: 'Complete', ProgressSummary: { TotalNumberOfTasks: 10, NumberOfTasksSucceeded: 10, NumberOfTasksFailed: 0 } } });
    expect(await track()).toEqual([expect.objectContaining({ outcome: 'JOB_COMPLETED', job: expect.objectContaining({ finished: true, tasks: { total: 10, succeeded: 10, failed: 0 } }) })]);
    expect(control.commandCalls(PutJobTaggingCommand)[0].args[0].input).toEqual({ AccountId: ACCOUNT, JobId: 'j', Tags: [{ Key: 'team', Value: 'storage' }, { Key: 'encryption-guard:reported', Value: 'true' }] });

    control.on(GetJobTaggingCommand).resolves({ Tags: [{ Key: 'encryption-guard:reported', Value: 'true' }] });
    control.resetHistory();
    expect(await track()).toEqual([]);
    expect(control.commandCalls(DescribeJobCommand)).toHaveLength(0);
  });

  it('a finished job with failed tasks reads its completion report: the failed objects\' reasons, counted, and a sample', async () => {
    listJobs(['partial', 'Complete']);
    control.on(GetJobTaggingCommand).resolves({ Tags: [] });
    control.on(DescribeJobCommand).resolves({ Job: {
      JobId: 'partial', Status: 'Complete', ProgressSummary: { TotalNumberOfTasks: 10, NumberOfTasksSucceeded: 7, NumberOfTasksFailed: 3 },
      Report: { Enabled: true, Bucket: `arn:aws:s3:::${REPORTS}`, Prefix: 'reencrypt/bucket-partial' },
    } });
    const body = (text: string) => ({ Body: { transformToString: async () => text } as never });
    const failedCsv = 'reencrypt/bucket-partial/job-partial/results/abc.csv';
    // The manifest and the CSV as the AWS page shows them (batch-ops-examples-reports).
    s3.on(GetObjectCommand, { Key: 'reencrypt/bucket-partial/job-partial/manifest.json' }).resolves(body(JSON.stringify({
      Format: 'Report_CSV_20180820',
      Results: [
        { TaskExecutionStatus: 'succeeded', Bucket: REPORTS, Key: 'reencrypt/bucket-partial/job-partial/results/ok.csv' },
        { TaskExecutionStatus: 'failed', Bucket: REPORTS, Key: failedCsv },
      ],
      ReportSchema: 'Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage',
    })));
    s3.on(GetObjectCommand, { Key: failedCsv }).resolves(body([
      'bucket-partial,locked%2Fa.csv,v1,failed,AccessDenied,403,"Object is under legal hold"',
      'bucket-partial,locked/b.csv,,failed,AccessDenied,403,"Object is under legal hold"',
      'bucket-partial,c+d.bin,,failed,InvalidRequest,400,"The source, ""SSE-C"", cannot be updated"',
    ].join('\n')));
    const [finding] = await track();
    expect(finding).toMatchObject({ outcome: 'JOB_FAILED', detail: expect.stringContaining('reasons: 2 × AccessDenied: Object is under legal hold; 1 × InvalidRequest: The source, "SSE-C", cannot be updated') });
    expect(finding.failedObjects).toEqual([
      { key: 'locked/a.csv', versionId: 'v1', code: 'AccessDenied', detail: 'Object is under legal hold' },
      { key: 'locked/b.csv', code: 'AccessDenied', detail: 'Object is under legal hold' },
      { key: 'c d.bin', code: 'InvalidRequest', detail: 'The source, "SSE-C", cannot be updated' },
    ]);
    for (const call of s3.commandCalls(GetObjectCommand)) expect(call.args[0].input).toMatchObject({ Bucket: REPORTS, ExpectedBucketOwner: ACCOUNT, Range: 'bytes=0-1048575' });
    expect(s3.commandCalls(GetObjectCommand).map((call) => call.args[0].input.Key)).not.toContain('reencrypt/bucket-partial/job-partial/results/ok.csv');
  });

  it('a job with failed tasks or a failed job is JOB_FAILED, naming the completion report and S3\'s failure reasons', async () => {
    listJobs(['partial', 'Complete'], ['broken', 'Failed']);
    control.on(GetJobTaggingCommand).resolves({ Tags: [] });
    control.on(DescribeJobCommand, { JobId: 'partial' }).resolves({ Job: {
      JobId: 'partial', Status: 'Complete', ProgressSummary: { TotalNumberOfTasks: 10, NumberOfTasksSucceeded: 7, NumberOfTasksFailed: 3 },
      Report: { Enabled: true, Bucket: `arn:aws:s3:::${REPORTS}`, Prefix: 'reencrypt/bucket-partial' },
    } });
    control.on(DescribeJobCommand, { JobId: 'broken' }).resolves({ Job: {
      JobId: 'broken', Status: 'Failed', FailureReasons: [{ FailureCode: 'AccessDenied', FailureReason: 'The role cannot list the bucket' }],
    } });
    const findings = await track();
    expect(findings).toEqual([
      expect.objectContaining({ bucket: 'bucket-partial', outcome: 'JOB_FAILED', detail: expect.stringContaining(`s3://${REPORTS}/reencrypt/bucket-partial/job-partial/`) }),
      expect.objectContaining({ bucket: 'bucket-broken', outcome: 'JOB_FAILED', detail: expect.stringContaining('AccessDenied: The role cannot list the bucket') }),
    ]);
    expect(control.commandCalls(PutJobTaggingCommand)).toHaveLength(2);
  });
});
