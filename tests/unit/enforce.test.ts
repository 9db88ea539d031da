import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import {
  GetBucketEncryptionCommand, GetBucketPolicyCommand, GetBucketTaggingCommand, GetPublicAccessBlockCommand, PutPublicAccessBlockCommand, PutBucketEncryptionCommand, S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { type EncryptionRule, toS3 } from '../../lib/encryption';
import { enforceBucket, findingOf, type EnforceRequest } from '../../lib/enforce';
import { testGuard, s3Error } from './aws-mocks';
import { ACCOUNT, config, configFor, KEYS, REGION } from './fixtures';

const s3 = mockClient(S3Client);
const kms = mockClient(KMSClient);

const request: EnforceRequest = {
  bucket: 'app-data', region: REGION, accountId: ACCOUNT,
  trigger: { type: 'event', eventName: 'CreateBucket', eventId: 'e-1', actor: `arn:aws:iam::${ACCOUNT}:user/alice` },
};

/** A GetBucketEncryption answer for a rule. */
const encryption = (algorithm: string, extra: Omit<EncryptionRule, 'algorithm'> = {}) => ({ ServerSideEncryptionConfiguration: toS3({ algorithm, ...extra }) });

/** S3 that answers reads with `state`, and after a write answers with what was written. */
const bucketWith = (state: ReturnType<typeof encryption> | 'none', tags: Record<string, string> = {}): void => {
  let current: object | undefined = state === 'none' ? undefined : state;
  s3.on(GetBucketEncryptionCommand).callsFake(async () => {
    if (!current) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
    return current;
  });
  s3.on(GetBucketTaggingCommand).resolves({ TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) });
  s3.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 404));
  s3.on(PutBucketEncryptionCommand).callsFake(async (input) => {
    current = { ServerSideEncryptionConfiguration: input.ServerSideEncryptionConfiguration };
    return {};
  });
};

const keyMetadata = (arn: string, extra: Record<string, unknown> = {}) => ({
  KeyMetadata: { KeyId: arn.split('/')[1], Arn: arn, AWSAccountId: ACCOUNT, KeyState: 'Enabled' as const, KeySpec: 'SYMMETRIC_DEFAULT' as const, KeyUsage: 'ENCRYPT_DECRYPT' as const, KeyManager: 'CUSTOMER' as const, ...extra },
});

beforeEach(() => {
  s3.reset();
  kms.reset();
});

describe('enforceBucket', () => {
  it('reads a compliant bucket with two parallel calls and writes nothing', async () => {
    bucketWith(encryption('AES256'));
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding).toMatchObject({ schemaVersion: 1, bucket: 'app-data', account: ACCOUNT, region: REGION, mode: 'SSE_S3', modeSource: 'account', verdict: 'COMPLIANT', action: 'NONE', violations: [], before: { algorithm: 'AES256' } });
    expect(s3.calls().map((call) => call.args[0].constructor.name)).toEqual(['GetBucketEncryptionCommand', 'GetBucketTaggingCommand']);
    for (const call of s3.calls()) expect(call.args[0].input).toMatchObject({ Bucket: 'app-data', ExpectedBucketOwner: ACCOUNT });
  });

  it('gives a bucket without an explicit rule the mode\'s rule, as the account\'s own bucket only, and verifies it', async () => {
    bucketWith('none');
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(s3.commandCalls(PutBucketEncryptionCommand)[0].args[0].input).toEqual({
      Bucket: 'app-data', ExpectedBucketOwner: ACCOUNT,
      ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
    });
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', before: null, plan: { algorithm: 'AES256' }, after: { algorithm: 'AES256' } });
    expect(finding.violations.map((v) => v.code)).toEqual(['NO_DEFAULT_ENCRYPTION']);
    // Read, re-read just before the write (is it still what was judged?), write, read back.
    expect(s3.calls().map((call) => call.args[0].constructor.name).filter((name) => name !== 'GetBucketTaggingCommand'))
      .toEqual(['GetBucketEncryptionCommand', 'GetBucketEncryptionCommand', 'PutBucketEncryptionCommand', 'GetBucketEncryptionCommand']);
  });

  it('in dry run logs what it would write and writes nothing', async () => {
    bucketWith(encryption('AES256'));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED', dryRun: true }))));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'WOULD_REMEDIATE', plan: { algorithm: 'aws:kms', bucketKeyEnabled: true } });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
  });

  it('leaves an exempt bucket untouched and says why', async () => {
    bucketWith('none', { 'encryption-guard:exempt': 'true' });
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding).toMatchObject({ verdict: 'EXEMPT', action: 'NONE', exemptReason: 'tag encryption-guard:exempt=true' });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
  });

  it('follows the mode tag over the account mode', async () => {
    bucketWith(encryption('AES256'), { 'encryption-guard:mode': 'SSE_KMS_AWS_MANAGED' });
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding).toMatchObject({ mode: 'SSE_KMS_AWS_MANAGED', modeSource: 'tag', action: 'REMEDIATED', after: { algorithm: 'aws:kms', bucketKeyEnabled: true } });
  });

  it('writes the listed key ARN with a bucket key in customer-managed mode, after checking the key', async () => {
    bucketWith(encryption('AES256'));
    kms.on(DescribeKeyCommand).resolves(keyMetadata(KEYS.listed));
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    const finding = findingOf(await enforceBucket(request, testGuard(configFor('SSE_KMS_CUSTOMER_MANAGED'))));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', after: { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true } });
    expect(kms.commandCalls(DescribeKeyCommand)[0].args[0].input).toEqual({ KeyId: KEYS.listed });
  });

  it('checks each key once per container, however many buckets use it', async () => {
    bucketWith(encryption('aws:kms', { kmsKeyId: KEYS.listed, bucketKeyEnabled: true }));
    kms.on(DescribeKeyCommand).resolves(keyMetadata(KEYS.listed));
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    const deps = testGuard(configFor('SSE_KMS_CUSTOMER_MANAGED'));
    const findings = (await Promise.all(['a-bucket', 'b-bucket', 'c-bucket'].map((bucket) => enforceBucket({ ...request, bucket }, deps)))).map(findingOf);
    expect(findings.map((f) => f.verdict)).toEqual(['COMPLIANT', 'COMPLIANT', 'COMPLIANT']);
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(1);
    expect(kms.commandCalls(GetKeyRotationStatusCommand)).toHaveLength(1);
  });

  it('never writes a configured key that is pending deletion', async () => {
    bucketWith(encryption('AES256'));
    kms.on(DescribeKeyCommand).resolves(keyMetadata(KEYS.listed, { KeyState: 'PendingDeletion' }));
    const finding = findingOf(await enforceBucket(request, testGuard(configFor('SSE_KMS_CUSTOMER_MANAGED'))));
    expect(finding).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED' });
    expect(finding.violations.map((v) => v.code)).toContain('CONFIGURED_KEY_UNUSABLE');
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
  });

  it('treats a key KMS cannot find as unusable, never rewriting the bucket', async () => {
    bucketWith(encryption('aws:kms', { kmsKeyId: KEYS.otherOurs }));
    kms.on(DescribeKeyCommand).rejects(s3Error('NotFoundException', 400));
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED', violations: [expect.objectContaining({ code: 'FOREIGN_OR_UNUSABLE_KEY' })] });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
  });

  it('rejects a foreign key on sight, without asking KMS', async () => {
    bucketWith(encryption('aws:kms', { kmsKeyId: KEYS.foreign }));
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding.violations[0]).toMatchObject({ code: 'FOREIGN_OR_UNUSABLE_KEY', detail: expect.stringMatching(/999988887777/) });
    expect(kms.calls()).toHaveLength(0);
  });

  it('carries BlockedEncryptionTypes over when it rewrites the rule (BLOCK_SSE_C=preserve)', async () => {
    bucketWith(encryption('AES256', { blockedEncryptionTypes: ['SSE-C'] }));
    await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED' })));
    expect(s3.commandCalls(PutBucketEncryptionCommand)[0].args[0].input.ServerSideEncryptionConfiguration?.Rules?.[0]).toEqual({
      ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' }, BucketKeyEnabled: true, BlockedEncryptionTypes: { EncryptionType: ['SSE-C'] },
    });
  });

  describe('in a KMS mode, with the policy guardrails off', () => {
    const LOGS = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject', Resource: '*' }] });
    const ELB = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { Service: 'logdelivery.elasticloadbalancing.amazonaws.com' }, Action: 's3:PutObject', Resource: 'arn:aws:s3:::app-data/AWSLogs/*' }] });
    const operations = () => s3.calls().map((call) => call.args[0].constructor.name.replace(/Command$/, ''));

    it('does not read the policy of a compliant bucket: two calls', async () => {
      bucketWith(encryption('aws:kms', { bucketKeyEnabled: true }));
      s3.on(GetBucketPolicyCommand).resolves({ Policy: LOGS });
      const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED' }))));
      expect(finding).toMatchObject({ verdict: 'COMPLIANT', violations: [] });
      expect(operations()).toEqual(['GetBucketEncryption', 'GetBucketTagging']);
    });

    it('reads the policy once a rewrite is planned, and leaves a bucket ELB delivers logs to as it is', async () => {
      bucketWith(encryption('AES256'));
      s3.on(GetBucketPolicyCommand).resolves({ Policy: ELB });
      const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED' }))));
      expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
      expect(finding.violations.map((v) => v.code)).toEqual(['ENCRYPTION_TOO_WEAK', 'KMS_WOULD_BREAK_WRITERS']);
      expect(finding.violations[1].detail).toMatch(/logdelivery\.elasticloadbalancing\.amazonaws\.com \(Elastic Load Balancing access logs: SSE-S3 only\)/);
      expect(finding).not.toHaveProperty('plan');
      expect(operations()).toEqual(['GetBucketEncryption', 'GetBucketTagging', 'GetBucketPolicy']);
    });

    it('rewrites it all the same when the bucket is tagged encryption-guard:kms-rewrite=accept, without reading the policy', async () => {
      bucketWith(encryption('AES256'), { 'encryption-guard:kms-rewrite': 'accept' });
      s3.on(GetBucketPolicyCommand).resolves({ Policy: ELB });
      const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED' }))));
      expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', after: expect.objectContaining({ algorithm: 'aws:kms' }) });
      expect(operations()).not.toContain('GetBucketPolicy');
    });

    it('does not rewrite a bucket whose policy it may not read: who else uses it is unknown', async () => {
      bucketWith('none');
      s3.on(GetBucketPolicyCommand).rejects(s3Error('AccessDenied', 403));
      const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED' }))));
      expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
      expect(finding.violations).toContainEqual(expect.objectContaining({ code: 'POLICY_UNREADABLE', severity: 'violation', detail: expect.stringMatching(/not rewritten/) }));
      expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
    });

    it('warns KMS_MAY_BREAK_WRITERS on a compliant bucket when a guardrail read the policy anyway', async () => {
      bucketWith(encryption('aws:kms', { bucketKeyEnabled: true }));
      s3.on(GetBucketPolicyCommand).resolves({ Policy: LOGS });
      const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED', guardrails: { ...config().guardrails, REQUIRE_SIGV4: 'report' } }))));
      expect(finding.violations.map((v) => `${v.code}:${v.severity}`)).toEqual(['KMS_MAY_BREAK_WRITERS:warning', 'SIGV4_NOT_REQUIRED:warning']);
    });
  });

  it('a bucket that does not exist (never created, or deleted before it was handled) is no finding, and not exempt', async () => {
    s3.on(GetBucketEncryptionCommand).rejects(s3Error('NoSuchBucket', 404));
    s3.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchBucket', 404));
    await expect(enforceBucket(request, testGuard(config()))).resolves.toEqual({ kind: 'gone', bucket: 'app-data', detail: expect.stringMatching(/does not exist \(deleted or never created before/) });
  });

  it('a bucket deleted between read and write is gone, without an error', async () => {
    bucketWith('none');
    s3.on(PutBucketEncryptionCommand).rejects(s3Error('NoSuchBucket', 404));
    await expect(enforceBucket(request, testGuard(config()))).resolves.toMatchObject({ kind: 'gone', detail: expect.stringMatching(/deleted while/) });
  });

  it('a bucket deleted before its late policy read (a KMS or SSE_C mode tag) is gone, not a key failure', async () => {
    bucketWith(encryption('AES256'), { 'encryption-guard:mode': 'SSE_C' });
    s3.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucket', 404));
    await expect(enforceBucket(request, testGuard(config()))).resolves.toMatchObject({ kind: 'gone' });
  });

  it('a rewrite that only changes the SSE-C block, of a bucket naming its key by id, still checks the key fresh before writing', async () => {
    const keyId = KEYS.listed.split('/')[1];
    bucketWith(encryption('aws:kms', { kmsKeyId: keyId, bucketKeyEnabled: true }));
    // Enabled in the cache (by id and by ARN), disabled by the time the guard would write.
    kms.on(DescribeKeyCommand).resolvesOnce(keyMetadata(KEYS.listed)).resolvesOnce(keyMetadata(KEYS.listed)).resolves(keyMetadata(KEYS.listed, { KeyState: 'Disabled' }));
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    const finding = findingOf(await enforceBucket(request, testGuard(configFor('SSE_KMS_CUSTOMER_MANAGED', { blockSseC: 'block' }))));
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(3); // the id and the ARN, cached; the ARN, fresh
    expect(kms.commandCalls(DescribeKeyCommand)[2].args[0].input).toEqual({ KeyId: KEYS.listed });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
    expect(finding).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED' });
  });

  it('judged again after a write, a bucket that can no longer be judged gets nothing more written', async () => {
    bucketWith('none');
    const foreign = encryption('aws:kms', { kmsKeyId: KEYS.foreign });
    let reads = 0;
    s3.on(GetBucketEncryptionCommand).callsFake(async () => {
      reads += 1;
      if (reads <= 2) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
      return foreign; // another writer put a foreign key on it right after the guard's write
    });
    s3.on(PutBucketEncryptionCommand).resolves({});
    s3.on(GetPublicAccessBlockCommand).rejects(s3Error('NoSuchPublicAccessBlockConfiguration', 404));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' } }))));
    expect(finding).toMatchObject({ verdict: 'ERROR', action: 'FAILED' });
    expect(finding.violations.map((v) => v.code)).toContain('FOREIGN_OR_UNUSABLE_KEY');
    expect(s3.commandCalls(PutPublicAccessBlockCommand)).toHaveLength(0);
  });

  it('turns AccessDenied on read into ERROR/FAILED, not a retry', async () => {
    s3.on(GetBucketEncryptionCommand).rejects(s3Error('AccessDenied', 403));
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding).toMatchObject({ verdict: 'ERROR', action: 'FAILED', violations: [expect.objectContaining({ code: 'ACCESS_DENIED' })] });
  });

  it('turns AccessDenied on write into FAILED with the reason', async () => {
    bucketWith('none');
    s3.on(PutBucketEncryptionCommand).rejects(s3Error('AccessDenied', 403));
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'FAILED' });
    expect(finding.violations.at(-1)).toMatchObject({ code: 'ACCESS_DENIED', detail: expect.stringMatching(/PutBucketEncryption failed/) });
  });

  it('hands throttling that outlasts the SDK\'s retries back to the caller (the queue retries)', async () => {
    s3.on(GetBucketEncryptionCommand).rejects(s3Error('SlowDown', 503));
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
    await expect(enforceBucket(request, testGuard(config()))).rejects.toMatchObject({ name: 'SlowDown' });
  });

  it('a write S3 accepted but reads do not show yet is re-read with backoff, then VERIFY_PENDING (a warning) and a later look', async () => {
    bucketWith('none');
    s3.on(PutBucketEncryptionCommand).resolves({}); // propagation: reads still say "none"
    const waits: number[] = [];
    const outcome = await enforceBucket(request, { ...testGuard(config()), sleep: async (ms) => { waits.push(ms); } });
    expect(waits).toEqual([250, 500, 1000, 2000]);
    expect(outcome).toMatchObject({ kind: 'finding', retryLater: expect.stringMatching(/encryption written is not visible yet/) });
    const finding = findingOf(outcome);
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', after: null });
    expect(finding.violations.at(-1)).toMatchObject({ code: 'VERIFY_PENDING', severity: 'warning' });
  });

  it('a read-back that is old at first and right after a pause is simply REMEDIATED', async () => {
    bucketWith('none');
    let reads = 0;
    let written: object | undefined;
    s3.on(GetBucketEncryptionCommand).callsFake(async () => {
      reads += 1;
      if (!written || reads === 3) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404); // the first read-back is stale
      return { ServerSideEncryptionConfiguration: written };
    });
    s3.on(PutBucketEncryptionCommand).callsFake(async (input) => { written = input.ServerSideEncryptionConfiguration; return {}; });
    const outcome = await enforceBucket(request, { ...testGuard(config()), sleep: async () => undefined });
    expect(outcome).toEqual({ kind: 'finding', finding: expect.objectContaining({ action: 'REMEDIATED', after: { algorithm: 'AES256' } }) });
    expect(findingOf(outcome).violations.map((v) => v.code)).toEqual(['NO_DEFAULT_ENCRYPTION']);
  });

  it('acts in the bucket\'s actual region when S3 redirects', async () => {
    const regions: string[] = [];
    s3.on(GetBucketEncryptionCommand).callsFake(async (_input, getClient) => {
      const region = await getClient().config.region();
      regions.push(region);
      if (region !== 'eu-west-1') throw s3Error('PermanentRedirect', 301, { $response: { headers: { 'x-amz-bucket-region': 'eu-west-1' } } });
      return encryption('AES256');
    });
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(regions).toEqual(['us-east-1', 'eu-west-1']);
    expect(finding).toMatchObject({ region: 'eu-west-1', verdict: 'COMPLIANT' });
  });
});
