/**
 * One re-keying message, with aws-sdk-client-mock: who would lose the objects (the bucket policy), the
 * report mode's sample, and the queue's messages for another account.
 */
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  GetBucketPolicyCommand, GetBucketTaggingCommand, HeadObjectCommand, ListObjectsV2Command, S3Client, UpdateObjectEncryptionCommand,
} from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createReencryptHandler, reencryptDeps } from '../../handlers/reencrypt';
import type { GuardConfig } from '../../lib/config';
import { firstMessage, type ReencryptMessage } from '../../lib/reencrypt/message';
import { runReencryptMessage } from '../../lib/reencrypt/run';
import { s3Error, testGuard } from './aws-mocks';
import { ACCOUNT, configFor, FOREIGN_ACCOUNT, KEYS, REGION } from './fixtures';

const s3 = mockClient(S3Client);
const kms = mockClient(KMSClient);

const BUCKET = 'shared-bucket';
const settings = (objects: 'report' | 'enforce', inlineMaxObjects = 10_000): GuardConfig =>
  configFor('SSE_KMS_CUSTOMER_MANAGED', { reencrypt: { objects, inlineMaxObjects, versions: 'current' } });
const start = firstMessage({ bucket: BUCKET, region: REGION, account: ACCOUNT, trigger: { type: 'sweep', sweepId: 's1' } }, 0);
const run = (config: GuardConfig, enqueued: ReencryptMessage[] = []) =>
  runReencryptMessage(start, { ...reencryptDeps(testGuard(config), { enqueue: async (message) => { enqueued.push(message); }, batch: {}, pageSize: 2 }, 'message-1') });

/** Another account may read the bucket's objects. */
const sharedPolicy = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${FOREIGN_ACCOUNT}:root` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${BUCKET}/*` }],
});

beforeEach(() => {
  s3.reset();
  kms.reset();
  s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
  s3.on(GetBucketPolicyCommand).resolves({ Policy: sharedPolicy });
  // Three SSE-S3 objects, in pages of two.
  s3.on(ListObjectsV2Command).callsFake((input: { ContinuationToken?: string }) => (input.ContinuationToken === 't1'
    ? { Contents: [{ Key: 'c', Size: 5 }], IsTruncated: false }
    : { Contents: [{ Key: 'a', Size: 5 }, { Key: 'b', Size: 5 }], IsTruncated: true, NextContinuationToken: 't1' }));
  s3.on(HeadObjectCommand).resolves({ ServerSideEncryption: 'AES256' });
  s3.on(UpdateObjectEncryptionCommand).resolves({});
  kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEYS.listed, AWSAccountId: ACCOUNT, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
  kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
});

describe('re-keying never locks out readers outside the account (issue 12\'s check, on existing objects)', () => {
  it('enforce: a bucket policy letting another account read objects stops the pass: SKIPPED with KMS_WOULD_BREAK_READERS naming it, nothing listed or changed', async () => {
    const result = await run(settings('enforce'));
    expect(result).toMatchObject({ status: 'finished', finding: { outcome: 'SKIPPED', violations: [{ code: 'KMS_WOULD_BREAK_READERS', severity: 'violation' }] } });
    const { finding } = result as Extract<typeof result, { status: 'finished' }>;
    expect(finding.violations![0].detail).toMatch(new RegExp(`would lock out readers of existing objects outside this account: arn:aws:iam::${FOREIGN_ACCOUNT}:root \\(another account\\).*kms:Decrypt.*encryption-guard:kms-rewrite=accept`));
    expect(s3.commandCalls(GetBucketPolicyCommand)[0].args[0].input).toEqual({ Bucket: BUCKET, ExpectedBucketOwner: ACCOUNT });
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
    expect(s3.commandCalls(UpdateObjectEncryptionCommand)).toHaveLength(0);
  });

  it('enforce: an unreadable policy is POLICY_UNREADABLE — who reads the objects is unknown, so none is re-keyed', async () => {
    s3.on(GetBucketPolicyCommand).rejects(s3Error('AccessDenied', 403));
    expect(await run(settings('enforce'))).toMatchObject({ finding: { outcome: 'SKIPPED', violations: [{ code: 'POLICY_UNREADABLE' }] } });
    expect(s3.commandCalls(UpdateObjectEncryptionCommand)).toHaveLength(0);
  });

  it('goes ahead once the bucket is tagged encryption-guard:kms-rewrite=accept (the policy is not even read)', async () => {
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [{ Key: 'encryption-guard:kms-rewrite', Value: 'accept' }] });
    expect(await run(settings('enforce'))).toMatchObject({ status: 'continued' });
    expect(s3.commandCalls(GetBucketPolicyCommand)).toHaveLength(0);
    expect(s3.commandCalls(UpdateObjectEncryptionCommand)).toHaveLength(2);
  });

  it('report mode still estimates', async () => {
    expect(await run(settings('report'))).toMatchObject({ status: 'continued' });
    expect(s3.commandCalls(GetBucketPolicyCommand)).toHaveLength(0);
  });
});

describe('report mode reads a sample, never the whole bucket', () => {
  it('stops after reencryptInlineMaxObjects objects: one finding labelled as a sample of that size, no next page enqueued', async () => {
    const enqueued: ReencryptMessage[] = [];
    const result = await run(settings('report', 2), enqueued);
    expect(enqueued).toEqual([]);
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(1);
    expect(result).toMatchObject({
      status: 'finished',
      finding: {
        outcome: 'ESTIMATED', detail: expect.stringMatching(/^a sample: the first 2 objects \(10 bytes\) listed; the bucket holds more/),
        estimate: { sampled: true, covers: { objects: 2, bytes: 10 }, objectsToReencrypt: 2 },
      },
    });
  });

  it('cuts a page at the limit: only the sample\'s objects are read', async () => {
    const result = await run(settings('report', 1));
    expect(s3.commandCalls(HeadObjectCommand)).toHaveLength(1);
    expect(result).toMatchObject({ finding: { estimate: { sampled: true, covers: { objects: 1 } } } });
  });

  it('a bucket within the limit is counted whole: not a sample', async () => {
    const enqueued: ReencryptMessage[] = [];
    expect(await run(settings('report', 3), enqueued)).toMatchObject({ status: 'continued' });
    const last = await runReencryptMessage(enqueued[0], reencryptDeps(testGuard(settings('report', 3)), { enqueue: async () => undefined, batch: {}, pageSize: 2 }, 'message-2'));
    expect(last).toMatchObject({ finding: { outcome: 'ESTIMATED', estimate: { sampled: false, covers: { objects: 3 } } } });
    expect(last).not.toHaveProperty('finding.detail');
  });
});

describe('the re-keying function acts only for its own account', () => {
  it('ignores a message naming another account with one line and no AWS call', async () => {
    const ignored: string[] = [];
    const handle = createReencryptHandler(testGuard(settings('enforce')), { enqueue: async () => undefined, finding: () => undefined, ignored: (reason) => ignored.push(reason), batch: {} });
    const record = (message: ReencryptMessage, id: string) => ({ messageId: id, body: JSON.stringify(message), attributes: { MessageGroupId: message.bucket } });
    const event = { Records: [record({ ...start, accountId: FOREIGN_ACCOUNT }, 'm-foreign')] } as unknown as SQSEvent;
    const response = await handle(event, { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:reencryptObjects`, awsRequestId: 'r' });
    expect(response.batchItemFailures).toEqual([]);
    expect(ignored).toEqual([`SQS message m-foreign names account ${FOREIGN_ACCOUNT}, not this function's account ${ACCOUNT}`]);
    expect(s3.calls()).toHaveLength(0);
    expect(kms.calls()).toHaveLength(0);
  });
});
