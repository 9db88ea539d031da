/**
 * The enforceBucket handler end to end against the local emulator with the real SDK: a bucket is
 * created, its CloudTrail event delivered, and the bucket read back.
 * Emulator gaps met here (DESIGN.md): a new bucket has no encryption configuration (real S3: AES256),
 * and BlockedEncryptionTypes is dropped (covered by unit tests instead).
 */
import { createBucketEventHandler } from '../../handlers/bucket-event';
import { callsSince } from '../../lib/aws-clients';
import type { EncryptionRule } from '../../lib/encryption';
import type { Finding } from '../../lib/finding';
import type { FindingSink, NotEvaluated } from '../../lib/telemetry';
import { admin, callsOf, emulatorGuard, REGION, uniqueBucket } from './aws';

const ACCOUNT = '123456789012'; // the emulator's account
const aws = admin();

const eventFor = (bucket: string, eventName = 'CreateBucket') => ({
  version: '0', id: `id-${bucket}`, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: ACCOUNT, region: REGION,
  time: new Date().toISOString(), resources: [],
  detail: {
    eventVersion: '1.09', eventSource: 's3.amazonaws.com', eventName, awsRegion: REGION, eventID: `evt-${bucket}`, readOnly: false,
    userIdentity: { type: 'AssumedRole', arn: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/session` },
    requestParameters: { bucketName: bucket, Host: `${bucket}.s3.amazonaws.com` }, recipientAccountId: ACCOUNT,
  },
});

/** A rule read back from S3, which reports the bucket-key flag as false where none was set. */
const rule = (expected: EncryptionRule) => ({ ...expected, bucketKeyEnabled: expected.bucketKeyEnabled ?? false });

const deliver = async (bucket: string, settings: Record<string, string> = {}) => {
  // Encryption only: the guardrails (report by default) have their own suite.
  const guard = emulatorGuard({ PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'off', ...settings });
  const findings: Finding[] = [];
  const sink: FindingSink = { finding: (f) => findings.push(f), ignored: () => undefined, notEvaluated: () => undefined, retrying: () => undefined, flush: async () => undefined };
  const handle = createBucketEventHandler(guard, sink);
  const run = async () => {
    await handle(eventFor(bucket), {});
    return findings.at(-1)!;
  };
  return { first: await run(), again: run, guard };
};

describe('enforceBucket against the emulator', () => {
  it('SSE_S3: a new bucket without a rule gets AES256', async () => {
    const bucket = uniqueBucket('sse-s3');
    await aws.createBucket(bucket);
    const { first } = await deliver(bucket);
    expect(first).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', mode: 'SSE_S3' });
    expect(await aws.encryptionOf(bucket)).toEqual(rule({ algorithm: 'AES256' }));
  });

  it('SSE_KMS_AWS_MANAGED: AES256 becomes aws:kms with the aws/s3 key and a bucket key', async () => {
    const bucket = uniqueBucket('aws-managed');
    await aws.createBucket(bucket, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    const { first } = await deliver(bucket, { ENCRYPTION_MODE: 'SSE_KMS_AWS_MANAGED' });
    expect(first).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    expect(await aws.encryptionOf(bucket)).toEqual({ algorithm: 'aws:kms', bucketKeyEnabled: true });
  });

  it('SSE_KMS_CUSTOMER_MANAGED: another key of ours is replaced by the listed key', async () => {
    const listed = await aws.createKey();
    const other = await aws.createKey();
    const bucket = uniqueBucket('cmk');
    await aws.createBucket(bucket, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: other } }] } });
    const { first } = await deliver(bucket, { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: listed });
    expect(first.violations.map((v) => v.code)).toContain('WRONG_KMS_KEY');
    expect(await aws.encryptionOf(bucket)).toEqual({ algorithm: 'aws:kms', kmsKeyId: listed, bucketKeyEnabled: true });
  });

  it('DSSE_KMS: the bucket gets aws:kms:dsse with the listed key and no bucket key', async () => {
    const listed = await aws.createKey();
    const bucket = uniqueBucket('dsse');
    await aws.createBucket(bucket);
    const { first } = await deliver(bucket, { ENCRYPTION_MODE: 'DSSE_KMS', KMS_KEY_ARN: listed });
    expect(first).toMatchObject({ action: 'REMEDIATED' });
    expect(await aws.encryptionOf(bucket)).toEqual(rule({ algorithm: 'aws:kms:dsse', kmsKeyId: listed }));
  });

  it('a per-bucket mode tag wins over the account mode', async () => {
    const bucket = uniqueBucket('tagged');
    await aws.createBucket(bucket, { tags: { 'encryption-guard:mode': 'SSE_KMS_AWS_MANAGED' } });
    const { first } = await deliver(bucket);
    expect(first).toMatchObject({ mode: 'SSE_KMS_AWS_MANAGED', modeSource: 'tag', action: 'REMEDIATED' });
    expect((await aws.encryptionOf(bucket))?.algorithm).toBe('aws:kms');
  });

  it('dry run changes nothing', async () => {
    const bucket = uniqueBucket('dry-run');
    await aws.createBucket(bucket);
    const { first, guard } = await deliver(bucket, { DRY_RUN: 'true' });
    expect(first).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'WOULD_REMEDIATE', plan: { algorithm: 'AES256' } });
    expect(callsOf(guard, 'S3.PutBucketEncryption')).toBe(0);
    expect(await aws.encryptionOf(bucket)).toBeUndefined();
  });

  it('an exempt bucket is left untouched', async () => {
    const bucket = uniqueBucket('exempt');
    await aws.createBucket(bucket, { tags: { 'encryption-guard:exempt': 'true' } });
    const { first } = await deliver(bucket);
    expect(first).toMatchObject({ verdict: 'EXEMPT', action: 'NONE' });
    expect(await aws.encryptionOf(bucket)).toBeUndefined();
  });

  it.each(['Disabled', 'PendingDeletion'] as const)('a %s configured key is never applied', async (state) => {
    const key = await aws.createKey(state);
    const bucket = uniqueBucket('bad-key');
    await aws.createBucket(bucket, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    const { first, guard } = await deliver(bucket, { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key });
    expect(first).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED' });
    expect(first.violations.find((v) => v.code === 'CONFIGURED_KEY_UNUSABLE')?.detail).toContain(state);
    expect(callsOf(guard, 'S3.PutBucketEncryption')).toBe(0);
    expect(await aws.encryptionOf(bucket)).toEqual(rule({ algorithm: 'AES256' }));
  });

  it('a bucket on a disabled key of ours is reported, never rewritten', async () => {
    const key = await aws.createKey('Disabled');
    const bucket = uniqueBucket('on-disabled-key');
    await aws.createBucket(bucket, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: key } }] } });
    const { first } = await deliver(bucket);
    expect(first).toMatchObject({ verdict: 'ERROR', violations: [expect.objectContaining({ code: 'FOREIGN_OR_UNUSABLE_KEY' })] });
    expect(await aws.encryptionOf(bucket)).toEqual(rule({ algorithm: 'aws:kms', kmsKeyId: key }));
  });

  it('a second delivery of the same event writes nothing', async () => {
    const bucket = uniqueBucket('twice');
    await aws.createBucket(bucket);
    const { first, again, guard } = await deliver(bucket);
    expect(first.action).toBe('REMEDIATED');
    const before = { ...guard.calls };
    const second = await again();
    expect(second).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(callsSince(guard.calls, before)).toEqual({ 'S3.GetBucketEncryption': 1, 'S3.GetBucketTagging': 1 });
  });

  it('a bucket that does not exist (deleted before the event is handled) is said so in one line: no finding, not EXEMPT', async () => {
    const bucket = uniqueBucket('never-created');
    const guard = emulatorGuard();
    const findings: Finding[] = [];
    const notEvaluated: NotEvaluated[] = [];
    const sink: FindingSink = { finding: (f) => findings.push(f), ignored: () => undefined, notEvaluated: (what) => notEvaluated.push(what), retrying: () => undefined, flush: async () => undefined };
    await expect(createBucketEventHandler(guard, sink)(eventFor(bucket), {})).resolves.toEqual({ notEvaluated: expect.stringMatching(/does not exist/) });
    expect(findings).toEqual([]);
    expect(notEvaluated).toEqual([expect.objectContaining({ kind: 'gone', bucket })]);
  });
});
