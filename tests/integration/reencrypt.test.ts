/**
 * Re-keying existing objects against the emulator (its UpdateObjectEncryption: scripts/emulator/): a versioned
 * bucket of a few hundred objects in mixed encryptions is estimated in `report` and re-keyed in `enforce`, page
 * by page through a real SQS FIFO queue, by the `reencryptObjects` handler with real SDK clients.
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand,
  DeleteBucketPolicyCommand, HeadObjectCommand, type HeadObjectCommandOutput, ListObjectVersionsCommand, PutBucketEncryptionCommand, PutBucketPolicyCommand, PutBucketVersioningCommand,
  PutObjectCommand, type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { createReencryptHandler } from '../../handlers/reencrypt';
import { sendReencryptMessage } from '../../lib/reencrypt/handoff';
import { firstMessage, type ReencryptMessage } from '../../lib/reencrypt/message';
import type { ReencryptFinding } from '../../lib/reencrypt/report';
import type { Finding } from '../../lib/finding';
import { admin, callsOf, emulatorGuard, REGION, uniqueBucket } from './aws';

const ACCOUNT = '123456789012';
const s3Admin = admin();
const { s3 } = s3Admin;
const customerKey = Buffer.alloc(32, 9);
const SSE_C = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(customerKey).digest('base64') };

/** How many objects of each kind the bucket holds (current versions), and the noncurrent SSE-S3 versions. */
const COUNTS = { sseS3: 100, otherKey: 60, listedWithBucketKey: 40, listedWithoutBucketKey: 20, sseC: 30, dsse: 20, unencrypted: 10, noncurrent: 20 };
const ELIGIBLE_CURRENT = COUNTS.sseS3 + COUNTS.otherKey + COUNTS.listedWithoutBucketKey;

let bucket: string;
let listed: string;
let other: string;
let queueName: string;
let queueUrl: string;
let sqs: SQSClient;

const put = (Key: string, extra: Partial<PutObjectCommandInput>) => s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `data of ${Key}`, ...extra }));
const headAll = async (): Promise<Map<string, Omit<HeadObjectCommandOutput, '$metadata'>>> => {
  const versions = (await s3.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions ?? [];
  const heads = await Promise.all(versions.map(async (version) => {
    const sseC = version.Key!.startsWith('sse-c/') ? SSE_C : {};
    const { $metadata, ...head } = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: version.Key, VersionId: version.VersionId, ...sseC }));
    return [`${version.Key} ${version.VersionId}`, head] as const;
  }));
  return new Map(heads);
};

beforeAll(async () => {
  [listed, other] = await Promise.all([s3Admin.createKey(), s3Admin.createKey()]);
  bucket = uniqueBucket('rekey');
  await s3Admin.createBucket(bucket);
  await s3.send(new PutBucketVersioningCommand({ Bucket: bucket, VersioningConfiguration: { Status: 'Enabled' } }));
  // The emulator's only way to hold unencrypted objects: written before the bucket had a default rule (as on S3 before 2023).
  for (let i = 0; i < COUNTS.unencrypted; i++) await put(`unencrypted/${i}`, {});
  await s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: listed }, BucketKeyEnabled: true }] } }));
  const writes: Array<() => Promise<unknown>> = [];
  const many = (count: number, prefix: string, extra: Partial<PutObjectCommandInput>) => {
    for (let i = 0; i < count; i++) writes.push(() => put(`${prefix}/${i}`, extra));
  };
  many(COUNTS.sseS3, 'sse-s3', { ServerSideEncryption: 'AES256' });
  many(COUNTS.otherKey, 'other-key', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: other });
  many(COUNTS.listedWithBucketKey, 'listed', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: listed, BucketKeyEnabled: true });
  many(COUNTS.listedWithoutBucketKey, 'listed-no-bucket-key', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: listed, BucketKeyEnabled: false });
  many(COUNTS.sseC, 'sse-c', SSE_C);
  many(COUNTS.dsse, 'dsse', { ServerSideEncryption: 'aws:kms:dsse', SSEKMSKeyId: listed });
  for (let i = 0; i < 8; i++) await Promise.all(writes.slice((i * writes.length) / 8, ((i + 1) * writes.length) / 8).map((write) => write()));
  // Overwritten objects: their first versions, SSE-S3, become noncurrent.
  for (let i = 0; i < COUNTS.noncurrent; i++) await put(`sse-s3/${i}`, { ServerSideEncryption: 'AES256' });

  sqs = new SQSClient({ region: REGION, endpoint: process.env.AWS_ENDPOINT_URL });
  queueName = `${uniqueBucket('rekey')}.fifo`;
  queueUrl = (await sqs.send(new CreateQueueCommand({ QueueName: queueName, Attributes: { FifoQueue: 'true' } }))).QueueUrl!;
}, 120_000);

/** Runs the queue dry as Lambda would: receive, invoke the handler with the batch, delete what succeeded. */
const drain = async (handle: (event: SQSEvent) => Promise<{ batchItemFailures: Array<{ itemIdentifier: string }> }>): Promise<number> => {
  let deliveries = 0;
  for (let idle = 0; idle < 3;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, AttributeNames: ['All'], MessageSystemAttributeNames: ['All'], VisibilityTimeout: 30 }));
    if (Messages.length === 0) {
      idle += 1;
      continue;
    }
    deliveries += Messages.length;
    const event = {
      Records: Messages.map((message) => ({
        messageId: message.MessageId!, receiptHandle: message.ReceiptHandle!, body: message.Body!, attributes: message.Attributes ?? {},
        messageAttributes: {}, md5OfBody: message.MD5OfBody!, eventSource: 'aws:sqs', eventSourceARN: 'arn:aws:sqs:us-east-1:123456789012:rekey.fifo', awsRegion: REGION,
      })),
    } as unknown as SQSEvent;
    const { batchItemFailures } = await handle(event);
    const failed = new Set(batchItemFailures.map((failure) => failure.itemIdentifier));
    expect(failed.size).toBe(0);
    for (const message of Messages) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle! }));
  }
  return deliveries;
};

const compliant = (): Finding => ({
  schemaVersion: 1, bucket, account: ACCOUNT, region: REGION, trigger: { type: 'sweep', sweepId: 'test' },
  mode: 'SSE_KMS_CUSTOMER_MANAGED', modeSource: 'account', verdict: 'COMPLIANT', violations: [], action: 'NONE', durationMs: 1,
});

const pass = async (settings: Record<string, string>, start: (send: (message: ReencryptMessage) => Promise<void>) => Promise<void>) => {
  const guard = emulatorGuard({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: listed, REENCRYPT_QUEUE_NAME: queueName, ...settings });
  const findings: ReencryptFinding[] = [];
  const send = (message: ReencryptMessage) => sendReencryptMessage(sqs, queueUrl, message);
  const handle = createReencryptHandler(guard, { enqueue: send, finding: (finding) => findings.push(finding), ignored: () => undefined, batch: {}, pageSize: 100 });
  await start(send);
  const deliveries = await drain(handle);
  return { guard, findings, deliveries };
};

describe('re-keying a bucket\'s objects against the emulator', () => {
  let before: Map<string, Omit<HeadObjectCommandOutput, '$metadata'>>;

  beforeAll(async () => {
    before = await headAll();
  });

  it('report: estimates every object by encryption, eligible and not (with why), and the cost — changing nothing', async () => {
    const { guard, findings, deliveries } = await pass({ REENCRYPT_OBJECTS: 'report', REENCRYPT_VERSIONS: 'all' }, async () => {
      await emulatorGuard({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: listed, REENCRYPT_OBJECTS: 'report', REENCRYPT_QUEUE_NAME: queueName }).handOff!(compliant());
    });
    const total = Object.values(COUNTS).reduce((sum, n) => sum + n, 0);
    expect(deliveries).toBe(Math.ceil(total / 100)); // one message per page of 100
    expect(findings).toHaveLength(1);
    const [finding] = findings;
    expect(finding).toMatchObject({
      bucket, outcome: 'ESTIMATED', setting: 'report', path: 'inline', target: { kind: 'kms', keyArn: listed, bucketKeyEnabled: true },
      before: {
        SSE_S3: COUNTS.sseS3 + COUNTS.noncurrent, SSE_KMS_OTHER_KEY: COUNTS.otherKey, SSE_KMS_LISTED_KEY: COUNTS.listedWithBucketKey + COUNTS.listedWithoutBucketKey,
        SSE_C: COUNTS.sseC, DSSE_KMS: COUNTS.dsse, UNENCRYPTED: COUNTS.unencrypted,
      },
      estimate: { sampled: false, objectsToReencrypt: ELIGIBLE_CURRENT + COUNTS.noncurrent },
    });
    expect(finding.tally).toMatchObject({
      listed: { objects: total }, examined: { objects: total },
      eligible: { objects: ELIGIBLE_CURRENT + COUNTS.noncurrent }, alreadyOnTarget: { objects: COUNTS.listedWithBucketKey },
      ineligible: { SSE_C_SOURCE: { objects: COUNTS.sseC }, DSSE_SOURCE: { objects: COUNTS.dsse }, UNENCRYPTED_SOURCE: { objects: COUNTS.unencrypted } },
      reencrypted: {}, failed: {},
    });
    expect(finding.estimate!.usd.inline).toBeGreaterThan(0);
    expect(callsOf(guard, 'S3.UpdateObjectEncryption')).toBe(0);
    expect(await headAll()).toEqual(before);
  });

  it('enforce: re-keys every eligible object and version in place to the listed key with a bucket key; the rest untouched and reported', async () => {
    const { guard, findings } = await pass({ REENCRYPT_OBJECTS: 'enforce', REENCRYPT_VERSIONS: 'all' }, async (send) => send(firstMessage(compliant(), Date.now())));
    expect(findings).toHaveLength(1);
    expect(findings[0]).toMatchObject({
      outcome: 'REENCRYPTED', setting: 'enforce', path: 'inline',
      tally: { reencrypted: { SSE_S3: COUNTS.sseS3 + COUNTS.noncurrent, SSE_KMS_OTHER_KEY: COUNTS.otherKey, SSE_KMS_LISTED_KEY: COUNTS.listedWithoutBucketKey }, failed: {} },
      after: { SSE_S3: 0, SSE_KMS_OTHER_KEY: 0, SSE_C: COUNTS.sseC, DSSE_KMS: COUNTS.dsse, UNENCRYPTED: COUNTS.unencrypted },
    });
    expect(callsOf(guard, 'S3.UpdateObjectEncryption')).toBe(ELIGIBLE_CURRENT + COUNTS.noncurrent);

    const after = await headAll();
    expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
    for (const [id, head] of after) {
      const was = before.get(id)!;
      expect({ id, etag: head.ETag, modified: head.LastModified, size: head.ContentLength }).toEqual({ id, etag: was.ETag, modified: was.LastModified, size: was.ContentLength });
      if (id.startsWith('sse-c/') || id.startsWith('dsse/') || id.startsWith('unencrypted/')) {
        expect({ id, sse: head.ServerSideEncryption, key: head.SSEKMSKeyId }).toEqual({ id, sse: was.ServerSideEncryption, key: was.SSEKMSKeyId });
      } else {
        expect({ id, sse: head.ServerSideEncryption, key: head.SSEKMSKeyId, bucketKey: head.BucketKeyEnabled }).toEqual({ id, sse: 'aws:kms', key: listed, bucketKey: true });
      }
    }
  });

  it('a second pass finds nothing to change and makes no UpdateObjectEncryption call', async () => {
    const { guard, findings } = await pass({ REENCRYPT_OBJECTS: 'enforce', REENCRYPT_VERSIONS: 'all' }, async (send) => send(firstMessage(compliant(), Date.now() + 1)));
    expect(findings[0]).toMatchObject({ outcome: 'REENCRYPTED', tally: { eligible: { objects: 0 }, reencrypted: {} } });
    expect(callsOf(guard, 'S3.UpdateObjectEncryption')).toBe(0);
  });

  it('re-keys nothing while the bucket policy lets another account read objects: SKIPPED with KMS_WOULD_BREAK_READERS', async () => {
    const reader = '210987654321';
    await s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${reader}:root` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` }],
    }) }));
    try {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'shared/new', Body: 'x', ServerSideEncryption: 'AES256' }));
      const { guard, findings } = await pass({ REENCRYPT_OBJECTS: 'enforce' }, async (send) => send(firstMessage(compliant(), Date.now() + 3)));
      expect(findings).toEqual([expect.objectContaining({ outcome: 'SKIPPED', violations: [expect.objectContaining({ code: 'KMS_WOULD_BREAK_READERS', detail: expect.stringContaining(reader) })] })]);
      expect(callsOf(guard, 'S3.UpdateObjectEncryption')).toBe(0);
      expect((await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'shared/new' }))).ServerSideEncryption).toBe('AES256');
    } finally {
      await s3.send(new DeleteBucketPolicyCommand({ Bucket: bucket }));
    }
  });

  it('an object under legal hold is not attempted (S3 would refuse it): reported OBJECT_LOCKED, no failure, the rest re-keyed', async () => {
    const locked = uniqueBucket('rekey-lock');
    await s3.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
    await s3.send(new PutBucketEncryptionCommand({ Bucket: locked, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: listed }, BucketKeyEnabled: true }] } }));
    await s3.send(new PutObjectCommand({ Bucket: locked, Key: 'held', Body: 'x', ServerSideEncryption: 'AES256', ObjectLockLegalHoldStatus: 'ON' }));
    await s3.send(new PutObjectCommand({ Bucket: locked, Key: 'free', Body: 'y', ServerSideEncryption: 'AES256' }));
    const { guard, findings } = await pass({ REENCRYPT_OBJECTS: 'enforce' }, async (send) => send(firstMessage({ ...compliant(), bucket: locked }, Date.now() + 4)));
    expect(findings[0]).toMatchObject({ outcome: 'REENCRYPTED', tally: { reencrypted: { SSE_S3: 1 }, failed: {}, ineligible: { OBJECT_LOCKED: { objects: 1 } } } });
    expect(callsOf(guard, 'S3.UpdateObjectEncryption')).toBe(1);
    expect((await s3.send(new HeadObjectCommand({ Bucket: locked, Key: 'held' }))).ServerSideEncryption).toBe('AES256');
    expect((await s3.send(new HeadObjectCommand({ Bucket: locked, Key: 'free' }))).SSEKMSKeyId).toBe(listed);
  });

  it('never re-keys to an unusable key: a disabled listed key stops the pass before any object', async () => {
    const disabled = await s3Admin.createKey('Disabled');
    const { guard, findings } = await pass({ REENCRYPT_OBJECTS: 'enforce', KMS_KEY_ARN: disabled }, async (send) => send(firstMessage(compliant(), Date.now() + 2)));
    expect(findings[0]).toMatchObject({ outcome: 'ERROR', detail: expect.stringMatching(/Disabled.*no object re-keyed/) });
    expect(callsOf(guard, 'S3.UpdateObjectEncryption')).toBe(0);
    expect(callsOf(guard, 'S3.HeadObject')).toBe(0);
  });
});
