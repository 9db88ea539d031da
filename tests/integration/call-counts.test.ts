/**
 * AWS calls per event, asserted exactly against the emulator with the real SDK clients: what the guard
 * costs per bucket is part of its contract (README, "Performance"; `npm run bench` measures the same
 * counts beside latencies). Counts only — never times. "Together" is asserted by the number of requests
 * in flight at once, which the reads reach before any answer can arrive.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DeleteBucketEncryptionCommand } from '@aws-sdk/client-s3';
import { createBucketEventHandler } from '../../handlers/bucket-event';
import { type CallCounts, callsSince } from '../../lib/aws-clients';
import { enforceBucket, findingOf, type EnforceRequest } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import { createFindingEventPublisher } from '../../lib/finding-events';
import type { Guard } from '../../lib/guard';
import { createTelemetrySink, type FindingSink, logger } from '../../lib/telemetry';
import { useEmulator } from '../emulator-env';
import { admin, emulatorGuard, REGION, uniqueBucket } from './aws';

const ACCOUNT = '123456789012'; // the emulator's
const FUNCTION_ARN = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3-encryption-guard-test-enforceBucket`;
const ACTOR = `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/session`;
const aws = admin();

const OFF = { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' } as const;
const ENFORCE_ALL = { PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'enforce', REQUIRE_SIGV4: 'enforce', DENY_WEAKER_UPLOADS: 'enforce' } as const;
const AES256 = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' as const } }] };
const READS = { 'S3.GetBucketEncryption': 1, 'S3.GetBucketTagging': 1 };
// Read, re-read just before writing (is it still what was judged?), write, read back: the re-read adds
// one read per write that could replace someone else's choice, and nothing for a compliant bucket.
const REMEDIATION = { 'S3.GetBucketEncryption': 3, 'S3.GetBucketTagging': 1, 'S3.PutBucketEncryption': 1 };

let events = 0;
const request = (bucket: string): EnforceRequest => ({
  bucket, region: REGION, accountId: ACCOUNT,
  trigger: { type: 'event', eventName: 'PutBucketEncryption', eventId: `evt-${process.pid}-${events++}`, actor: ACTOR },
});

const eventFor = (bucket: string) => ({
  version: '0', id: `id-${bucket}`, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: ACCOUNT, region: REGION,
  time: new Date().toISOString(), resources: [],
  detail: {
    eventVersion: '1.09', eventSource: 's3.amazonaws.com', eventName: 'PutBucketEncryption', awsRegion: REGION, eventID: `evt-${bucket}-${events++}`, readOnly: false,
    userIdentity: { type: 'AssumedRole', arn: ACTOR }, requestParameters: { bucketName: bucket }, recipientAccountId: ACCOUNT,
  },
});
const sqsBatch = (bodies: object[]) => ({
  Records: bodies.map((body, i) => ({
    messageId: `m-${i}`, receiptHandle: 'r', body: JSON.stringify(body), attributes: {}, messageAttributes: {}, md5OfBody: '',
    eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:settle`, awsRegion: REGION,
  })),
});

/** A guard wired as the Lambda wires it, that also records how many S3 requests were in flight at once. */
const guardWith = (settings: Record<string, string> = {}) => {
  const guard = emulatorGuard({ ENCRYPTION_MODE: 'SSE_S3', ...OFF, ...settings });
  const s3 = { inFlight: 0, maxInFlight: 0 };
  guard.s3(REGION).middlewareStack.add((next) => async (args) => {
    s3.inFlight++;
    s3.maxInFlight = Math.max(s3.maxInFlight, s3.inFlight);
    try {
      return await next(args);
    } finally {
      s3.inFlight--;
    }
  }, { step: 'initialize', name: 'testInFlight' });
  return { guard, s3 };
};

/** The calls one enforceBucket makes, and the finding. */
const enforce = async (guard: Guard, bucket: string): Promise<{ calls: CallCounts; finding: Finding }> => {
  const before = { ...guard.calls };
  const finding = findingOf(await enforceBucket(request(bucket), guard));
  return { calls: callsSince(guard.calls, before), finding };
};

const compliantBucket = async (prefix: string): Promise<string> => {
  const bucket = uniqueBucket(prefix);
  await aws.createBucket(bucket, { encryption: AES256 });
  return bucket;
};
const bareBucket = async (prefix: string): Promise<string> => {
  const bucket = uniqueBucket(prefix);
  await aws.createBucket(bucket); // the emulator's new bucket has no default encryption: non-compliant
  return bucket;
};

describe('AWS calls per event (only default encryption enforced)', () => {
  it('a compliant bucket costs exactly its two reads, made together', async () => {
    const { guard, s3 } = guardWith();
    const { calls, finding } = await enforce(guard, await compliantBucket('calls-compliant'));
    expect(finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(calls).toEqual(READS);
    expect(s3.maxInFlight).toBe(2);
  });

  it('a non-compliant bucket costs the reads, a re-read, one write and one verifying read', async () => {
    const { guard } = guardWith();
    const bucket = await bareBucket('calls-noncompliant');
    const { calls, finding } = await enforce(guard, bucket);
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    expect(calls).toEqual(REMEDIATION);
    // Delivered again: nothing differs, nothing is written.
    expect((await enforce(guard, bucket)).calls).toEqual(READS);
  });

  it('the flap ledger adds a claim before the write and a record after it, and nothing for a compliant bucket', async () => {
    const table = uniqueBucket('calls-ledger');
    await new DynamoDBClient({ region: REGION, endpoint: useEmulator() }).send(new CreateTableCommand({
      TableName: table, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'bucket', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'bucket', KeyType: 'HASH' }],
    }));
    const { guard } = guardWith({ FLAP_TABLE: table });
    expect((await enforce(guard, await bareBucket('calls-ledger'))).calls).toEqual({ ...REMEDIATION, 'DynamoDB.UpdateItem': 2 });
    expect((await enforce(guard, await compliantBucket('calls-ledger-ok'))).calls).toEqual(READS);
  });

  it('a cold container\'s first event costs the same two reads: the account comes from the Lambda context, not STS', async () => {
    const { guard } = guardWith();
    const sink: FindingSink = { finding: () => undefined, ignored: () => undefined, notEvaluated: () => undefined, retrying: () => undefined, flush: async () => undefined };
    await createBucketEventHandler(guard, sink)(eventFor(await compliantBucket('calls-cold')), { invokedFunctionArn: FUNCTION_ARN });
    expect(guard.calls).toEqual(READS);
  });

  it('events a batch holds for one bucket are evaluated once; an ignored event costs nothing', async () => {
    const { guard } = guardWith();
    const sink: FindingSink = { finding: () => undefined, ignored: () => undefined, notEvaluated: () => undefined, retrying: () => undefined, flush: async () => undefined };
    const bucket = await compliantBucket('calls-batch');
    const handle = createBucketEventHandler(guard, sink);
    await handle(sqsBatch([eventFor(bucket), eventFor(bucket), eventFor(bucket)]), { invokedFunctionArn: FUNCTION_ARN });
    expect(guard.calls).toEqual(READS);
    await handle({ ...eventFor(bucket), source: 'aws.ec2' }, { invokedFunctionArn: FUNCTION_ARN });
    expect(guard.calls).toEqual(READS);
  });

  it('findings that need attention are published in one PutEvents per ten, not one per bucket', async () => {
    const { guard } = guardWith();
    const buckets = await Promise.all(Array.from({ length: 10 }, () => bareBucket('calls-published')));
    const handle = createBucketEventHandler(guard, createTelemetrySink(createFindingEventPublisher(() => guard.events(guard.homeRegion), logger)));
    await handle(sqsBatch(buckets.map(eventFor)), { invokedFunctionArn: FUNCTION_ARN });
    expect(guard.calls).toEqual({
      'S3.GetBucketEncryption': 30, 'S3.GetBucketTagging': 10, 'S3.PutBucketEncryption': 10, 'EventBridge.PutEvents': 1,
    });
  });
});

describe('AWS calls per event with guardrails', () => {
  it.each([
    ['PUBLIC_ACCESS_BLOCK', ['S3.GetPublicAccessBlock']],
    ['REQUIRE_SIGV4', ['S3.GetBucketPolicy']],
    ['DENY_WEAKER_UPLOADS', ['S3.GetBucketPolicy']],
    // Whether the bucket is a website decides whether TLS can be required at all.
    ['REQUIRE_TLS', ['S3.GetBucketPolicy', 'S3.GetBucketWebsite']],
  ])('%s in report adds exactly its reads, made together with the others', async (guardrail, reads) => {
    const { guard, s3 } = guardWith({ [guardrail]: 'report' });
    const { calls } = await enforce(guard, await compliantBucket('calls-report'));
    expect(calls).toEqual({ ...READS, ...Object.fromEntries(reads.map((read) => [read, 1])) });
    expect(s3.maxInFlight).toBe(2 + reads.length);
  });

  it('every guardrail in report: one policy read for all of them, five reads together', async () => {
    const { guard, s3 } = guardWith({ PUBLIC_ACCESS_BLOCK: 'report', REQUIRE_TLS: 'report', REQUIRE_SIGV4: 'report', DENY_WEAKER_UPLOADS: 'report' });
    const { calls } = await enforce(guard, await compliantBucket('calls-all-report'));
    expect(calls).toEqual({ ...READS, 'S3.GetBucketPolicy': 1, 'S3.GetPublicAccessBlock': 1, 'S3.GetBucketWebsite': 1 });
    expect(s3.maxInFlight).toBe(5);
  });

  it('enforce writes only what differs', async () => {
    const bucket = await bareBucket('calls-enforce');
    const { guard } = guardWith(ENFORCE_ALL);
    // Nothing in place: each write once, each followed by its verifying read; the rule and the policy are
    // also re-read just before they are written (Block Public Access is not: all four on weakens nothing).
    expect((await enforce(guard, bucket)).calls).toEqual({
      'S3.GetBucketEncryption': 3, 'S3.GetBucketTagging': 1, 'S3.PutBucketEncryption': 1, 'S3.GetBucketWebsite': 1,
      'S3.GetBucketPolicy': 3, 'S3.PutBucketPolicy': 1, 'S3.GetPublicAccessBlock': 2, 'S3.PutPublicAccessBlock': 1,
    });
    // Everything in place: reads only.
    const guardrailReads = { 'S3.GetBucketPolicy': 1, 'S3.GetPublicAccessBlock': 1, 'S3.GetBucketWebsite': 1 };
    const { calls, finding } = await enforce(guard, bucket);
    expect(finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(calls).toEqual({ ...READS, ...guardrailReads });
    // Only the encryption rule differs: only it is written.
    await aws.s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }));
    expect((await enforce(guard, bucket)).calls).toEqual({ ...REMEDIATION, ...guardrailReads });
  });
});

describe('AWS calls per event for key checks', () => {
  it('a key is described once per container: the next bucket on the same key costs no KMS call', async () => {
    const key = await aws.createKey();
    const onKey = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: key }, BucketKeyEnabled: true }] };
    const first = uniqueBucket('calls-key-1');
    const second = uniqueBucket('calls-key-2');
    await aws.createBucket(first, { encryption: onKey });
    await aws.createBucket(second, { encryption: onKey });
    const { guard } = guardWith({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key });
    // A compliant bucket costs its two reads in a KMS mode too: the policy matters only to a rewrite.
    const one = await enforce(guard, first);
    expect(one.finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(one.calls).toEqual({ ...READS, 'KMS.DescribeKey': 1, 'KMS.GetKeyRotationStatus': 1 });
    const two = await enforce(guard, second);
    expect(two.finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(two.calls).toEqual(READS);
  });

  it('in a KMS mode the policy is read only when a rewrite is planned, after the reads that showed it', async () => {
    const { guard, s3 } = guardWith({ ENCRYPTION_MODE: 'SSE_KMS_AWS_MANAGED' });
    const { calls, finding } = await enforce(guard, await compliantBucket('calls-kms-rewrite'));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    expect(calls).toEqual({ ...REMEDIATION, 'S3.GetBucketPolicy': 1 });
    expect(s3.maxInFlight).toBe(2);
    // Tagged to accept the rewrite whoever else uses the bucket: no policy read.
    const accepted = uniqueBucket('calls-kms-rewrite-accepted');
    await aws.createBucket(accepted, { encryption: AES256, tags: { 'encryption-guard:kms-rewrite': 'accept' } });
    expect((await enforce(guard, accepted)).calls).toEqual(REMEDIATION);
  });

  it('the listed key\'s aliases are listed once per container, only while the upload statements may be written', async () => {
    const key = await aws.createKey();
    const onKey = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: key }, BucketKeyEnabled: true }] };
    const buckets = [uniqueBucket('calls-alias-1'), uniqueBucket('calls-alias-2')];
    for (const bucket of buckets) await aws.createBucket(bucket, { encryption: onKey });
    const { guard } = guardWith({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key, DENY_WEAKER_UPLOADS: 'report' });
    const withAliases = { ...READS, 'S3.GetBucketPolicy': 1, 'KMS.DescribeKey': 1, 'KMS.GetKeyRotationStatus': 1, 'KMS.ListAliases': 1 };
    expect((await enforce(guard, buckets[0])).calls).toEqual(withAliases);
    expect((await enforce(guard, buckets[1])).calls).toEqual({ ...READS, 'S3.GetBucketPolicy': 1 });
  });

  it('a key about to be written is described once more, fresh (no rotation request): the cache never decides a write', async () => {
    const key = await aws.createKey();
    const { guard } = guardWith({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key });
    const first = await enforce(guard, await bareBucket('calls-key-write-1'));
    expect(first.finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    expect(first.calls).toEqual({ ...REMEDIATION, 'S3.GetBucketPolicy': 1, 'KMS.DescribeKey': 2, 'KMS.GetKeyRotationStatus': 1 });
    const second = await enforce(guard, await bareBucket('calls-key-write-2'));
    expect(second.calls).toEqual({ ...REMEDIATION, 'S3.GetBucketPolicy': 1, 'KMS.DescribeKey': 1 });
  });
});
