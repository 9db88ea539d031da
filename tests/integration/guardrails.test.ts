/**
 * Guardrails and the SSE_C mode against the emulator with the real SDK: each guardrail in enforce and
 * report, and a bucket whose policy has several statements of other owners. The emulator does not
 * validate bucket policies, and gives a new bucket no Block Public Access configuration (AWS: all on).
 */
import { createHash, randomBytes } from 'node:crypto';
import { CreateAliasCommand } from '@aws-sdk/client-kms';
import {
  CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetBucketPolicyCommand, GetPublicAccessBlockCommand, HeadObjectCommand,
  PutBucketPolicyCommand, PutBucketTaggingCommand, PutBucketWebsiteCommand, PutPublicAccessBlockCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import { enforceBucket, findingOf } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import { admin, emulatorGuard, REGION, uniqueBucket } from './aws';

const ACCOUNT = '123456789012';
const aws = admin();
const OFF = { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' };
/** A bucket as AWS creates it: the emulator gives a new bucket no default encryption. */
const AES256 = { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' as const } }] } };

const run = async (bucket: string, settings: Record<string, string>): Promise<Finding> =>
  findingOf(await enforceBucket({ bucket, region: REGION, accountId: ACCOUNT, trigger: { type: 'sweep', sweepId: 'guardrails-test' } }, emulatorGuard({ ...OFF, ...settings })));

const policyOf = async (bucket: string) => {
  try {
    return JSON.parse((await aws.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy!) as { Statement: { Sid?: string }[] };
  } catch (error) {
    if ((error as Error).name === 'NoSuchBucketPolicy') return undefined;
    throw error;
  }
};
const foreignStatements = (bucket: string) => [
  { Sid: 'AllowPartnerRead', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` },
  { Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/logs/*`, Condition: { StringEquals: { 'aws:SourceAccount': ACCOUNT } } },
  { Sid: 'DenyDeleteFromOutsideOrg', Effect: 'Deny', Principal: '*', Action: 's3:DeleteObject', Resource: `arn:aws:s3:::${bucket}/*`, Condition: { StringNotEquals: { 'aws:PrincipalOrgID': 'o-abc123' } } },
];

describe('guardrails against the emulator', () => {
  it('PUBLIC_ACCESS_BLOCK=enforce turns Block Public Access on; report only warns', async () => {
    const reported = uniqueBucket('pab-report');
    await aws.createBucket(reported, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    expect((await run(reported, { PUBLIC_ACCESS_BLOCK: 'report' })).violations).toEqual([expect.objectContaining({ code: 'PUBLIC_ACCESS_NOT_BLOCKED', severity: 'warning' })]);
    await expect(aws.s3.send(new GetPublicAccessBlockCommand({ Bucket: reported }))).rejects.toMatchObject({ name: 'NoSuchPublicAccessBlockConfiguration' });

    const enforced = uniqueBucket('pab-enforce');
    await aws.createBucket(enforced, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    expect(await run(enforced, { PUBLIC_ACCESS_BLOCK: 'enforce' })).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    expect((await aws.s3.send(new GetPublicAccessBlockCommand({ Bucket: enforced }))).PublicAccessBlockConfiguration)
      .toEqual({ BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true });
    expect(await run(enforced, { PUBLIC_ACCESS_BLOCK: 'enforce' })).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
  });

  it.each([
    ['REQUIRE_TLS', 'TLS_NOT_REQUIRED', ['EncryptionGuardRequireTls']],
    ['REQUIRE_SIGV4', 'SIGV4_NOT_REQUIRED', ['EncryptionGuardRequireSigV4']],
  ])('%s=enforce adds its statement to a policy with several foreign statements, keeping them exactly; report only warns', async (setting, code, sids) => {
    const bucket = uniqueBucket(setting.toLowerCase().replace(/_/g, '-'));
    await aws.createBucket(bucket);
    const foreign = foreignStatements(bucket);
    await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: foreign }) }));

    const reported = await run(bucket, { [setting]: 'report' });
    expect(reported.violations).toContainEqual(expect.objectContaining({ code, severity: 'warning' }));
    expect((await policyOf(bucket))?.Statement).toEqual(foreign);

    const enforced = await run(bucket, { [setting]: 'enforce' });
    expect(enforced.violations).toContainEqual(expect.objectContaining({ code, severity: 'violation' }));
    const policy = await policyOf(bucket);
    expect(policy?.Statement.slice(0, 3)).toEqual(foreign);
    expect(policy?.Statement.slice(3).map((s) => s.Sid)).toEqual(sids);
    expect(enforced.policyBefore).toEqual({ Version: '2012-10-17', Statement: foreign });

    expect(await run(bucket, { [setting]: 'enforce' })).toMatchObject({ action: 'NONE' }); // nothing differs now
    // Another policy guardrail still in report (as by default) keeps the policy read, so the removal is seen.
    const off = await run(bucket, { [setting]: 'off', DENY_WEAKER_UPLOADS: 'report' });
    expect(off.action).toBe('REMEDIATED');
    expect((await policyOf(bucket))?.Statement).toEqual(foreign); // turned off: exactly the guard's statement removed
  });

  it('DENY_WEAKER_UPLOADS=enforce in customer-managed mode adds the four upload statements; turning it off deletes a policy left empty', async () => {
    const key = await aws.createKey();
    const bucket = uniqueBucket('weaker');
    await aws.createBucket(bucket);
    const settings = { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key };
    const finding = await run(bucket, { ...settings, DENY_WEAKER_UPLOADS: 'enforce' });
    expect(finding).toMatchObject({ action: 'REMEDIATED', after: expect.objectContaining({ algorithm: 'aws:kms', kmsKeyId: key }) });
    expect((await policyOf(bucket))?.Statement.map((s) => s.Sid)).toEqual(['EncryptionGuardDenyWeakerEncryption', 'EncryptionGuardDenyOtherKmsKeys', 'EncryptionGuardDenyAwsManagedKey', 'EncryptionGuardDenySseC']);

    expect(await run(bucket, { ...settings, DENY_WEAKER_UPLOADS: 'report' })).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(await run(bucket, { ...settings, DENY_WEAKER_UPLOADS: 'off', REQUIRE_TLS: 'report' })).toMatchObject({ action: 'REMEDIATED' });
    expect(await policyOf(bucket)).toBeUndefined();
  });

  it('a bucket tagged SSE_C gets the statement demanding SSE-C only when also tagged encryption-guard:sse-c-deny=true', async () => {
    const bucket = uniqueBucket('sse-c-deny');
    await aws.createBucket(bucket, { ...AES256, tags: { 'encryption-guard:mode': 'SSE_C', 'encryption-guard:sse-c-deny': 'true' } });
    const finding = await run(bucket, {});
    expect(finding).toMatchObject({ mode: 'SSE_C', action: 'REMEDIATED', violations: [expect.objectContaining({ code: 'SSE_C_NOT_REQUIRED', detail: expect.stringMatching(/CompleteMultipartUpload/) })] });
    const [statement] = (await policyOf(bucket))!.Statement as Record<string, unknown>[];
    expect(statement).toMatchObject({
      Sid: 'EncryptionGuardRequireSseC', Effect: 'Deny', Action: 's3:PutObject',
      Condition: { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'true' }, BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' } },
    });
    expect((await aws.encryptionOf(bucket))?.algorithm).toBe('AES256');
    expect(await run(bucket, {})).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
  });

  it('mode SSE_C with the default settings lets an SSE-C multipart upload through: create, upload parts, complete without resending the key', async () => {
    const bucket = uniqueBucket('sse-c-multipart');
    await aws.createBucket(bucket, { ...AES256, tags: { 'encryption-guard:mode': 'SSE_C' } });
    expect(await run(bucket, {})).toMatchObject({ mode: 'SSE_C', verdict: 'COMPLIANT' });
    expect(await policyOf(bucket)).toBeUndefined(); // no deny: nothing for the emulator to apply to the upload
    const key = randomBytes(32);
    const sseC = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: key.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(key).digest('base64') };
    const { UploadId } = await aws.s3.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin', ...sseC }));
    const parts = [];
    for (const PartNumber of [1, 2]) {
      const { ETag } = await aws.s3.send(new UploadPartCommand({ Bucket: bucket, Key: 'big.bin', UploadId, PartNumber, Body: Buffer.alloc(PartNumber === 1 ? 5 * 1024 * 1024 : 1024, PartNumber), ...sseC }));
      parts.push({ ETag, PartNumber });
    }
    // The AWS CLI and boto3 before late 2023 do not resend the SSE-C headers on Complete.
    await aws.s3.send(new CompleteMultipartUploadCommand({ Bucket: bucket, Key: 'big.bin', UploadId, MultipartUpload: { Parts: parts } }));
    expect((await aws.s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'big.bin', ...sseC }))).ContentLength).toBe(5 * 1024 * 1024 + 1024);
  });

  it('a static website bucket: REQUIRE_TLS=enforce writes no TLS deny, says why, and removes the guard\'s own once the bucket becomes a website', async () => {
    const bucket = uniqueBucket('website');
    await aws.createBucket(bucket, AES256);
    const foreign = foreignStatements(bucket);
    await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: foreign }) }));
    expect(await run(bucket, { REQUIRE_TLS: 'enforce' })).toMatchObject({ action: 'REMEDIATED' });
    expect((await policyOf(bucket))?.Statement.map((s) => s.Sid)).toContain('EncryptionGuardRequireTls');

    await aws.s3.send(new PutBucketWebsiteCommand({ Bucket: bucket, WebsiteConfiguration: { IndexDocument: { Suffix: 'index.html' } } }));
    const finding = await run(bucket, { REQUIRE_TLS: 'enforce' });
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    expect(finding.violations).toEqual([{
      code: 'TLS_NOT_ENFORCEABLE_WEBSITE', severity: 'warning',
      detail: expect.stringMatching(/HTTP only.*CloudFront with HTTPS to the bucket's REST endpoint and origin access control.*own TLS statement is removed/),
    }]);
    expect((await policyOf(bucket))?.Statement).toEqual(foreign);
    expect(await run(bucket, { REQUIRE_TLS: 'enforce' })).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE', violations: [expect.objectContaining({ code: 'TLS_NOT_ENFORCEABLE_WEBSITE' })] });
  });

  it.each([
    ['REQUIRE_TLS', 'TLS_NOT_REQUIRED', 'EncryptionGuardRequireTls', { Bool: { 'aws:SecureTransport': 'false' } }],
    ['REQUIRE_SIGV4', 'SIGV4_NOT_REQUIRED', 'EncryptionGuardRequireSigV4', { StringEquals: { 's3:signatureversion': 'AWS' } }],
  ])('%s: an owner\'s statement for one prefix or one account is reported as narrower, and the guard\'s own goes beside it', async (setting, code, sid, condition) => {
    const bucket = uniqueBucket(`narrower-${setting.toLowerCase().replace(/_/g, '-')}`);
    await aws.createBucket(bucket, AES256);
    const narrower = [
      { Sid: 'OnlyLogs', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `arn:aws:s3:::${bucket}/logs/*`, Condition: condition },
      { Sid: 'OnlyPartner', Effect: 'Deny', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:*', Resource: [`arn:aws:s3:::${bucket}`, `arn:aws:s3:::${bucket}/*`], Condition: condition },
    ];
    await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: narrower }) }));
    const finding = await run(bucket, { [setting]: 'enforce' });
    expect(finding.violations).toEqual([{ code, severity: 'violation', detail: expect.stringMatching(/"OnlyLogs" is narrower.*"OnlyPartner" is narrower \(applies only to/) }]);
    expect((await policyOf(bucket))?.Statement).toEqual([...narrower, expect.objectContaining({ Sid: sid })]);
  });

  it('a policy with someone\'s public Allow under BlockPublicPolicy: POLICY_PUBLIC_BLOCKED, nothing attempted', async () => {
    const bucket = uniqueBucket('public-blocked');
    await aws.createBucket(bucket, AES256);
    const publicRead = { Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` };
    const policy = JSON.stringify({ Version: '2012-10-17', Statement: [publicRead] });
    // The policy predates Block Public Access, which does not touch existing policies.
    await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: policy }));
    await aws.s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } }));
    const finding = await run(bucket, { REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'report' });
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
    expect(finding.violations.map((v) => v.code)).toEqual(['TLS_NOT_REQUIRED', 'POLICY_PUBLIC_BLOCKED']);
    expect(finding.violations[1].detail).toMatch(/statement "PublicRead"/);
    // The emulator ignores BlockPublicPolicy and would have taken the write: unchanged means not attempted.
    expect((await aws.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy).toBe(policy);
  });
});

describe('KMS modes and writers outside the account, against the emulator', () => {
  const ELB = (bucket: string) => ({ Effect: 'Allow', Principal: { Service: 'logdelivery.elasticloadbalancing.amazonaws.com' }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/AWSLogs/*` });
  const PARTNER = (bucket: string) => ({ Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['s3:PutObject', 's3:GetObject'], Resource: `arn:aws:s3:::${bucket}/*` });
  let key: string;
  beforeAll(async () => {
    key = await aws.createKey();
  });

  it.each([
    ['SSE_KMS_AWS_MANAGED', 'ELB log delivery', ELB, /logdelivery\.elasticloadbalancing\.amazonaws\.com \(Elastic Load Balancing access logs: SSE-S3 only\).*aws\/s3 key admits only/],
    ['SSE_KMS_AWS_MANAGED', 'another account', PARTNER, /111122223333:root \(another account\)/],
    ['SSE_KMS_CUSTOMER_MANAGED', 'ELB log delivery', ELB, /Elastic Load Balancing access logs: SSE-S3 only.*key policy of arn:aws:kms:/],
    ['SSE_KMS_CUSTOMER_MANAGED', 'another account', PARTNER, /another account.*key policy of arn:aws:kms:.*kms:GenerateDataKey/],
    ['DSSE_KMS', 'ELB log delivery', ELB, /Elastic Load Balancing access logs: SSE-S3 only/],
    ['DSSE_KMS', 'another account', PARTNER, /another account/],
  ])('%s: a bucket %s writes to is left as it is, until the tag accepts the rewrite', async (mode, _, statement, detail) => {
    const bucket = uniqueBucket(`kms-writers-${mode.toLowerCase().replace(/_/g, '-')}`);
    await aws.createBucket(bucket, AES256);
    await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [statement(bucket)] }) }));
    const settings = { ENCRYPTION_MODE: mode, ...(mode === 'SSE_KMS_AWS_MANAGED' ? {} : { KMS_KEY_ARN: key }) };

    const held = await run(bucket, settings);
    expect(held).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
    expect(held.violations).toContainEqual({ code: 'KMS_WOULD_BREAK_WRITERS', severity: 'violation', detail: expect.stringMatching(detail) });
    expect((await aws.encryptionOf(bucket))?.algorithm).toBe('AES256');

    await aws.s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: [{ Key: 'encryption-guard:kms-rewrite', Value: 'accept' }] } }));
    expect(await run(bucket, settings)).toMatchObject({ action: 'REMEDIATED', after: expect.objectContaining({ algorithm: mode === 'DSSE_KMS' ? 'aws:kms:dsse' : 'aws:kms' }) });
  });

  it('a bucket only this account uses is rewritten without a tag', async () => {
    const bucket = uniqueBucket('kms-internal');
    await aws.createBucket(bucket, AES256);
    const own = { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/app` }, Action: 's3:PutObject', Resource: `arn:aws:s3:::${bucket}/*` };
    await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [own] }) }));
    expect(await run(bucket, { ENCRYPTION_MODE: 'SSE_KMS_AWS_MANAGED' })).toMatchObject({ action: 'REMEDIATED', violations: [expect.objectContaining({ code: 'ENCRYPTION_TOO_WEAK' })] });
  });

  it('DENY_WEAKER_UPLOADS allows the listed key by its aliases', async () => {
    const bucket = uniqueBucket('aliases');
    await aws.createBucket(bucket, AES256);
    await aws.kms.send(new CreateAliasCommand({ AliasName: `alias/${bucket}`, TargetKeyId: key.split('/')[1] }));
    await run(bucket, { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key, DENY_WEAKER_UPLOADS: 'enforce' });
    const otherKeys = (await policyOf(bucket))?.Statement.find((s) => s.Sid === 'EncryptionGuardDenyOtherKmsKeys') as { Condition: { StringNotEquals: Record<string, string[]> } };
    expect(otherKeys.Condition.StringNotEquals['s3:x-amz-server-side-encryption-aws-kms-key-id']).toEqual(expect.arrayContaining([key, `alias/${bucket}`, `${key.split(':key/')[0]}:alias/${bucket}`]));
  });
});
