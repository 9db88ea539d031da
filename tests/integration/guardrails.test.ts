/**
 * Guardrails and the SSE_C mode against the emulator with the real SDK: each guardrail in enforce and
 * report, and a bucket whose policy has several statements of other owners. The emulator does not
 * validate bucket policies, and gives a new bucket no Block Public Access configuration (AWS: all on).
 */
import { GetBucketPolicyCommand, GetPublicAccessBlockCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { enforceBucket, findingOf } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import { admin, emulatorGuard, REGION, uniqueBucket } from './aws';

const ACCOUNT = '123456789012';
const aws = admin();
const OFF = { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' };

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

  it('DENY_WEAKER_UPLOADS=enforce in customer-managed mode adds the three upload statements; turning it off deletes a policy left empty', async () => {
    const key = await aws.createKey();
    const bucket = uniqueBucket('weaker');
    await aws.createBucket(bucket);
    const settings = { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key };
    const finding = await run(bucket, { ...settings, DENY_WEAKER_UPLOADS: 'enforce' });
    expect(finding).toMatchObject({ action: 'REMEDIATED', after: expect.objectContaining({ algorithm: 'aws:kms', kmsKeyId: key }) });
    expect((await policyOf(bucket))?.Statement.map((s) => s.Sid)).toEqual(['EncryptionGuardDenyWeakerEncryption', 'EncryptionGuardDenyOtherKmsKeys', 'EncryptionGuardDenyAwsManagedKey']);

    expect(await run(bucket, { ...settings, DENY_WEAKER_UPLOADS: 'report' })).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(await run(bucket, { ...settings, DENY_WEAKER_UPLOADS: 'off', REQUIRE_TLS: 'report' })).toMatchObject({ action: 'REMEDIATED' });
    expect(await policyOf(bucket)).toBeUndefined();
  });

  it('a bucket tagged SSE_C gets the statement demanding SSE-C, AWS services excepted', async () => {
    const bucket = uniqueBucket('sse-c');
    await aws.createBucket(bucket, { tags: { 'encryption-guard:mode': 'SSE_C' } });
    const finding = await run(bucket, {});
    expect(finding).toMatchObject({ mode: 'SSE_C', action: 'REMEDIATED' });
    const [statement] = (await policyOf(bucket))!.Statement as Record<string, unknown>[];
    expect(statement).toMatchObject({
      Sid: 'EncryptionGuardRequireSseC', Effect: 'Deny', Action: 's3:PutObject',
      Condition: { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'true' }, Bool: { 'aws:PrincipalIsAWSService': 'false' } },
    });
    expect((await aws.encryptionOf(bucket))?.algorithm).toBe('AES256');
    expect(await run(bucket, {})).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
  });
});
