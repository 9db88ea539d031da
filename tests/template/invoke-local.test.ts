/**
 * Smoke test of the documented local loop: `serverless invoke local -f enforceBucket -p
 * events/create-bucket.json` against the emulator fixes a new bucket that has no default encryption.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteBucketEncryptionCommand, GetBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { useEmulator } from '../emulator-env';
import { CLI_TIMEOUT_MS, describeResult, runServerless, SERVICE_DIR, type StagedService, stageService } from './serverless-cli';

const BUCKET = 'guard-demo-new-bucket';
const EVENT = JSON.parse(readFileSync(join(SERVICE_DIR, 'events', 'create-bucket.json'), 'utf8')) as { detail: { eventID: string; eventTime: string } };

/** The value `invoke local` prints last: a pretty-printed JSON object starting on a line of its own. */
const returnedValue = (stdout: string): unknown => {
  const lines = stdout.split('\n');
  const start = lines.lastIndexOf('{');
  if (start < 0) throw new Error(`no returned value in the output:\n${stdout}`);
  return JSON.parse(lines.slice(start).join('\n'));
};

/** The structured log lines: Powertools Logger writes one JSON object per line, warnings and errors to stderr. */
const logLines = (output: string): Array<Record<string, any>> =>
  output.split('\n').filter((line) => line.startsWith('{"')).flatMap((line) => {
    try {
      return [JSON.parse(line) as Record<string, any>];
    } catch {
      return [];
    }
  });

describe('serverless invoke local against the emulator', () => {
  let service: StagedService;
  let s3: S3Client;
  let endpoint: string;

  beforeAll(async () => {
    endpoint = useEmulator();
    s3 = new S3Client({ endpoint, region: 'us-east-1', forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });
    await s3.send(new CreateBucketCommand({ Bucket: BUCKET })).catch((error: { name?: string }) => {
      if (error.name !== 'BucketAlreadyOwnedByYou') throw error;
    });
    // Another suite may have fixed it already: start from a bucket with no default encryption, as moto creates it.
    await s3.send(new DeleteBucketEncryptionCommand({ Bucket: BUCKET }));
    service = stageService();
  });

  afterAll(() => {
    service?.remove();
    s3?.destroy();
  });

  it('remediates the bucket of events/create-bucket.json and logs one finding for it', async () => {
    await expect(s3.send(new GetBucketEncryptionCommand({ Bucket: BUCKET }))).rejects.toMatchObject({ name: 'ServerSideEncryptionConfigurationNotFoundError' });

    const result = await runServerless(service.dir, ['invoke', 'local', '--stage', 'dev', '--region', 'us-east-1', '-f', 'enforceBucket', '-p', 'events/create-bucket.json'], {
      AWS_ENDPOINT_URL: endpoint,
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'testing',
      AWS_SECRET_ACCESS_KEY: 'testing',
    });
    if (result.status !== 0) throw new Error(describeResult('serverless invoke local', result));

    const expected = {
      schemaVersion: 1,
      bucket: BUCKET,
      account: '123456789012',
      region: 'us-east-1',
      trigger: { type: 'event', eventName: 'CreateBucket', eventId: EVENT.detail.eventID, actor: expect.stringContaining(':assumed-role/ci-deploy/'), eventTime: EVENT.detail.eventTime },
      mode: 'SSE_S3',
      verdict: 'NONCOMPLIANT',
      action: 'REMEDIATED',
      after: expect.objectContaining({ algorithm: 'AES256' }),
    };
    expect(returnedValue(result.stdout)).toEqual({ finding: expect.objectContaining(expected) });
    const findings = logLines(`${result.stdout}\n${result.stderr}`).filter((line) => line.message === 'bucket evaluated');
    expect(findings).toEqual([expect.objectContaining({ finding: expect.objectContaining(expected) })]);

    const { ServerSideEncryptionConfiguration } = await s3.send(new GetBucketEncryptionCommand({ Bucket: BUCKET }));
    expect(ServerSideEncryptionConfiguration?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm).toBe('AES256');
  }, CLI_TIMEOUT_MS);
});
