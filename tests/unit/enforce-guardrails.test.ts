import {
  DeleteBucketPolicyCommand, GetBucketEncryptionCommand, GetBucketPolicyCommand, GetBucketTaggingCommand, GetBucketWebsiteCommand, GetPublicAccessBlockCommand,
  PutBucketEncryptionCommand, PutBucketPolicyCommand, PutPublicAccessBlockCommand, S3Client,
} from '@aws-sdk/client-s3';
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient, ListAliasesCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import type { GuardConfig } from '../../lib/config';
import { fromS3, toS3 } from '../../lib/encryption';
import { enforceBucket, findingOf, type EnforceRequest } from '../../lib/enforce';
import { s3Error, testGuard } from './aws-mocks';
import { ACCOUNT, config, KEYS, REGION } from './fixtures';

const s3 = mockClient(S3Client);
const request: EnforceRequest = { bucket: 'app-data', region: REGION, accountId: ACCOUNT, trigger: { type: 'event', eventName: 'PutBucketPolicy' } };
const FOREIGN = { Sid: 'AllowPartnerRead', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::app-data/*' };
const POLICY = JSON.stringify({ Version: '2012-10-17', Statement: [FOREIGN] });
const DEFAULTS: GuardConfig['guardrails'] = { PUBLIC_ACCESS_BLOCK: 'report', REQUIRE_TLS: 'report', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'report' };

/** An S3 bucket whose policy and Block Public Access the mocks keep, so writes can be read back. */
const bucket = (state: { tags?: Record<string, string>; policy?: string; blocked?: boolean; encryption?: Parameters<typeof toS3>[0]; website?: boolean } = {}) => {
  let policy = state.policy;
  let publicAccessBlock = state.blocked ? { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } : undefined;
  let encryption = state.encryption ?? { algorithm: 'AES256' };
  s3.on(GetBucketEncryptionCommand).callsFake(async () => ({ ServerSideEncryptionConfiguration: toS3(encryption) }));
  s3.on(PutBucketEncryptionCommand).callsFake(async (input) => {
    encryption = fromS3(input.ServerSideEncryptionConfiguration) ?? encryption;
    return {};
  });
  s3.on(GetBucketTaggingCommand).resolves({ TagSet: Object.entries(state.tags ?? {}).map(([Key, Value]) => ({ Key, Value })) });
  s3.on(GetBucketPolicyCommand).callsFake(async () => {
    if (policy === undefined) throw s3Error('NoSuchBucketPolicy', 404);
    return { Policy: policy };
  });
  s3.on(PutBucketPolicyCommand).callsFake(async (input) => { policy = input.Policy; return {}; });
  s3.on(DeleteBucketPolicyCommand).callsFake(async () => { policy = undefined; return {}; });
  s3.on(GetPublicAccessBlockCommand).callsFake(async () => {
    if (!publicAccessBlock) throw s3Error('NoSuchPublicAccessBlockConfiguration', 404);
    return { PublicAccessBlockConfiguration: publicAccessBlock };
  });
  s3.on(PutPublicAccessBlockCommand).callsFake(async (input) => { publicAccessBlock = input.PublicAccessBlockConfiguration as typeof publicAccessBlock; return {}; });
  if (state.website) s3.on(GetBucketWebsiteCommand).resolves({ IndexDocument: { Suffix: 'index.html' } });
  else s3.on(GetBucketWebsiteCommand).rejects(s3Error('NoSuchWebsiteConfiguration', 404));
  return { policy: () => policy };
};
const kms = mockClient(KMSClient);
/** KMS describes every key asked for as an enabled customer key of this account. */
const mockKey = () => {
  kms.reset();
  kms.on(DescribeKeyCommand).callsFake(async ({ KeyId }) => ({ KeyMetadata: { KeyId, Arn: KeyId, AWSAccountId: ACCOUNT, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } }));
  kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
  kms.on(ListAliasesCommand).resolves({ Aliases: [{ AliasName: 'alias/app-data', AliasArn: `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app-data` }] });
};
const operations = () => s3.calls().map((call) => call.args[0].constructor.name.replace(/Command$/, ''));

beforeEach(() => s3.reset());

describe('enforceBucket with guardrails', () => {
  it('with default settings reads the policy and Block Public Access in parallel, reports, and writes nothing', async () => {
    bucket({ policy: POLICY });
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: DEFAULTS }))));
    expect(operations().sort()).toEqual(['GetBucketEncryption', 'GetBucketPolicy', 'GetBucketTagging', 'GetBucketWebsite', 'GetPublicAccessBlock']);
    expect(finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(finding.violations.map((v) => `${v.code}:${v.severity}`)).toEqual(['PUBLIC_ACCESS_NOT_BLOCKED:warning', 'TLS_NOT_REQUIRED:warning']);
  });

  it('with every guardrail off costs no policy or Block Public Access call', async () => {
    bucket();
    await enforceBucket(request, testGuard(config()));
    expect(operations().sort()).toEqual(['GetBucketEncryption', 'GetBucketTagging']);
  });

  it('REQUIRE_TLS=enforce adds its statement, keeps the foreign one, re-reads before writing, and verifies', async () => {
    const state = bucket({ policy: POLICY });
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'off' } }))));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', policyBefore: JSON.parse(POLICY) });
    const written = JSON.parse(state.policy()!);
    expect(written.Statement).toEqual([FOREIGN, expect.objectContaining({ Sid: 'EncryptionGuardRequireTls', Effect: 'Deny' })]);
    expect(finding.policyAfter).toEqual(written);
    const order = operations();
    expect(order.filter((op) => op === 'GetBucketPolicy')).toHaveLength(3); // read, re-read before the write, verify
    expect(order[order.indexOf('PutBucketPolicy') - 1]).toBe('GetBucketPolicy'); // the re-read just before writing
    expect(s3.commandCalls(PutBucketPolicyCommand)[0].args[0].input).toEqual({ Bucket: 'app-data', ExpectedBucketOwner: ACCOUNT, Policy: state.policy() });
  });

  it('when the policy changed since it was read, merges into the new policy instead of writing the stale plan', async () => {
    const state = bucket({ policy: POLICY });
    let reads = 0;
    const OWNERS_NEW = { Sid: 'OwnerNew', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/app` }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::app-data/*' };
    // The owner rewrites the policy right after the guard's first read.
    s3.on(GetBucketPolicyCommand).callsFake(async () => ({
      Policy: s3.commandCalls(PutBucketPolicyCommand).length > 0 ? state.policy() : reads++ === 0 ? POLICY : JSON.stringify({ Version: '2012-10-17', Statement: [OWNERS_NEW] }),
    }));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'off' } }))));
    expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(1);
    expect(JSON.parse(state.policy()!).Statement).toEqual([OWNERS_NEW, expect.objectContaining({ Sid: 'EncryptionGuardRequireTls' })]); // the owner's change kept
    expect(finding).toMatchObject({ action: 'REMEDIATED', policyBefore: { Statement: [OWNERS_NEW] } });
  });

  it('REMEDIATED only when nothing enforced remains: the rule is fixed, but a policy too large for the TLS statement is FAILED, naming what remains', async () => {
    const big: object[] = [];
    const next = (i: number) => ({ ...FOREIGN, Sid: `Partner${i}`, Resource: `arn:aws:s3:::app-data/partners/${i}/*` });
    const text = () => JSON.stringify({ Version: '2012-10-17', Statement: big });
    while (text().length < 20 * 1024 - 100) big.push(next(big.length)); // the guard's statement would push it over
    const state = bucket({ policy: text() });
    let written: object | undefined; // no default rule until the guard writes one
    s3.on(GetBucketEncryptionCommand).callsFake(async () => {
      if (!written) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
      return { ServerSideEncryptionConfiguration: written };
    });
    s3.on(PutBucketEncryptionCommand).callsFake(async (input) => { written = input.ServerSideEncryptionConfiguration; return {}; });
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'off' } }))));
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(1);
    expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
    expect(state.policy()).toBe(text());
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'FAILED', after: { algorithm: 'AES256' }, unresolved: ['TLS_NOT_REQUIRED', 'POLICY_TOO_LARGE'] });
  });

  it('PUBLIC_ACCESS_BLOCK=enforce turns all four flags on and shows before and after', async () => {
    bucket();
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'off' } }))));
    expect(s3.commandCalls(PutPublicAccessBlockCommand)[0].args[0].input).toEqual({
      Bucket: 'app-data', ExpectedBucketOwner: ACCOUNT,
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
    });
    expect(finding).toMatchObject({ action: 'REMEDIATED', publicAccessBlockBefore: null, publicAccessBlockAfter: { BlockPublicAcls: true } });
  });

  it('in dry run shows the policy it would write and writes nothing', async () => {
    bucket({ policy: POLICY });
    const finding = findingOf(await enforceBucket(request, testGuard(config({ dryRun: true, guardrails: { ...DEFAULTS, REQUIRE_TLS: 'enforce' } }))));
    expect(finding).toMatchObject({ action: 'WOULD_REMEDIATE', policyPlan: { Statement: [FOREIGN, expect.objectContaining({ Sid: 'EncryptionGuardRequireTls' })] } });
    expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
  });

  it('deletes the policy when only guard statements were left and their settings are now off', async () => {
    const state = bucket({ policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'EncryptionGuardRequireSigV4', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: ['arn:aws:s3:::app-data', 'arn:aws:s3:::app-data/*'], Condition: { StringEquals: { 's3:signatureversion': 'AWS' } } }] }) });
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off' } }))));
    expect(s3.commandCalls(DeleteBucketPolicyCommand)).toHaveLength(1);
    expect(state.policy()).toBeUndefined();
    expect(finding).toMatchObject({ action: 'REMEDIATED', policyAfter: null });
  });

  it('puts a bucket tagged SSE_C in SSE_C mode by unblocking SSE-C, and adds no deny by default (multipart Complete keeps working)', async () => {
    const state = bucket({ tags: { 'encryption-guard:mode': 'SSE_C' }, encryption: { algorithm: 'AES256', blockedEncryptionTypes: ['SSE-C'] } });
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding).toMatchObject({ mode: 'SSE_C', modeSource: 'tag', verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    expect(finding.violations.map((v) => v.code)).toEqual(['SSE_C_BLOCKED']);
    expect(s3.commandCalls(PutBucketEncryptionCommand)[0].args[0].input.ServerSideEncryptionConfiguration?.Rules?.[0].BlockedEncryptionTypes).toEqual({ EncryptionType: ['NONE'] });
    expect(state.policy()).toBeUndefined();
  });

  it('adds the SSE-C deny to a bucket also tagged encryption-guard:sse-c-deny=true, reading the policy only then', async () => {
    const state = bucket({ tags: { 'encryption-guard:mode': 'SSE_C', 'encryption-guard:sse-c-deny': 'true' } });
    const finding = findingOf(await enforceBucket(request, testGuard(config())));
    expect(finding.violations.map((v) => v.code)).toEqual(['SSE_C_NOT_REQUIRED']);
    expect(finding.violations[0].detail).toMatch(/CompleteMultipartUpload/);
    expect(JSON.parse(state.policy()!).Statement).toEqual([expect.objectContaining({ Sid: 'EncryptionGuardRequireSseC' })]);
  });

  it('allows the listed key\'s aliases in DenyOtherKmsKeys, listed once per container', async () => {
    const state = bucket({ encryption: { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true } });
    mockKey();
    const guard = testGuard(config({ mode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArns: [KEYS.listed], guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'enforce' } }));
    await enforceBucket(request, guard);
    const otherKeys = JSON.parse(state.policy()!).Statement.find((s: { Sid: string }) => s.Sid === 'EncryptionGuardDenyOtherKmsKeys');
    expect(otherKeys.Condition.StringNotEquals['s3:x-amz-server-side-encryption-aws-kms-key-id']).toEqual(expect.arrayContaining(['alias/app-data', `arn:aws:kms:${REGION}:${ACCOUNT}:alias/app-data`]));
    await enforceBucket(request, guard);
    expect(kms.commandCalls(ListAliasesCommand)).toHaveLength(1);
  });

  it('denies other keys only on a bucket that uses the listed key', async () => {
    const onListed = bucket({ encryption: { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true } });
    const cmk = config({ mode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArns: [KEYS.listed], guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'enforce' } });
    mockKey();
    await enforceBucket(request, testGuard(cmk));
    expect(JSON.parse(onListed.policy()!).Statement.map((s: { Sid: string }) => s.Sid)).toContain('EncryptionGuardDenyOtherKmsKeys');

    s3.reset();
    const onDsse = bucket({ encryption: { algorithm: 'aws:kms:dsse', kmsKeyId: KEYS.otherOurs } }); // stronger, our own key: complies
    mockKey();
    const finding = findingOf(await enforceBucket(request, testGuard(cmk)));
    expect(finding.plan).toBeUndefined();
    expect(JSON.parse(onDsse.policy()!).Statement.map((s: { Sid: string }) => s.Sid)).toEqual(['EncryptionGuardDenyWeakerEncryption', 'EncryptionGuardDenySseC']);
  });

  it('never sets ConfirmRemoveSelfBucketAccess', async () => {
    bucket({ policy: POLICY });
    await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, REQUIRE_TLS: 'enforce', REQUIRE_SIGV4: 'enforce' } })));
    for (const call of s3.commandCalls(PutBucketPolicyCommand)) expect(call.args[0].input).not.toHaveProperty('ConfirmRemoveSelfBucketAccess');
  });

  it('writes nothing at all to a bucket it cannot judge (ERROR), guardrails included', async () => {
    bucket({ policy: POLICY, encryption: { algorithm: 'aws:fsx' } });
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'enforce' } }))));
    expect(finding).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED' });
    expect(operations().filter((op) => op.startsWith('Put') || op.startsWith('Delete'))).toEqual([]);
  });
});

describe('enforceBucket on a static website bucket', () => {
  it('REQUIRE_TLS=enforce writes no TLS deny and warns TLS_NOT_ENFORCEABLE_WEBSITE; the website read goes with the others', async () => {
    const state = bucket({ website: true, policy: POLICY });
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'enforce' } }))));
    expect(finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(finding.violations.map((v) => `${v.code}:${v.severity}`)).toEqual(['TLS_NOT_ENFORCEABLE_WEBSITE:warning']);
    expect(state.policy()).toBe(POLICY);
    expect(operations().sort()).toEqual(['GetBucketEncryption', 'GetBucketPolicy', 'GetBucketTagging', 'GetBucketWebsite']);
  });

  it('does not read the website configuration when REQUIRE_TLS is off', async () => {
    bucket({ policy: POLICY });
    await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off' } })));
    expect(operations()).not.toContain('GetBucketWebsite');
  });
});

describe('enforceBucket when the organisation owns a setting', () => {
  it('a PutPublicAccessBlock denied by an SCP is OWNED_BY_ORGANIZATION: not FAILED, nothing retried', async () => {
    bucket();
    s3.on(PutPublicAccessBlockCommand).rejects(s3Error('AccessDenied', 403, {
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/guard/fn is not authorized to perform: s3:PutBucketPublicAccessBlock on resource: "arn:aws:s3:::app-data" with an explicit deny in a service control policy`,
    }));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'off' } }))));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
    expect(finding.violations.map((v) => `${v.code}:${v.severity}`)).toEqual(['PUBLIC_ACCESS_NOT_BLOCKED:violation', 'OWNED_BY_ORGANIZATION:warning']);
    expect(finding.violations[1].detail).toMatch(/service control policy/);
  });

  it('the other writes still count: encryption written, Block Public Access owned elsewhere is REMEDIATED', async () => {
    bucket({ encryption: { algorithm: 'AES256' } });
    s3.on(PutPublicAccessBlockCommand).rejects(s3Error('AccessDenied', 403, {
      message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/guard/fn is not authorized to perform: s3:PutBucketPublicAccessBlock on resource: "arn:aws:s3:::app-data" with an explicit deny in a resource control policy`,
    }));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED', guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'off' } }))));
    expect(finding).toMatchObject({ action: 'REMEDIATED', after: expect.objectContaining({ algorithm: 'aws:kms' }) });
    expect(finding.violations.map((v) => v.code)).toContain('OWNED_BY_ORGANIZATION');
  });

  it('a bare "Access Denied" on Block Public Access is the deployment\'s own problem: FAILED, the alarm fires', async () => {
    bucket({ encryption: { algorithm: 'AES256' } });
    s3.on(PutPublicAccessBlockCommand).rejects(s3Error('AccessDenied', 403));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'off' } }))));
    expect(finding).toMatchObject({ action: 'FAILED' });
    expect(finding.violations.map((v) => v.code)).toContain('ACCESS_DENIED');
  });

  it('a PutBucketPolicy S3 refuses as public is POLICY_PUBLIC_BLOCKED, not FAILED', async () => {
    bucket({ policy: POLICY });
    s3.on(PutBucketPolicyCommand).rejects(s3Error('AccessDenied', 403, { message: 'User: x is not authorized to perform: s3:PutBucketPolicy on resource: "arn:aws:s3:::app-data" because public policies are prevented by the BlockPublicPolicy setting in S3 Block Public Access' }));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'enforce' } }))));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
    expect(finding.violations.map((v) => v.code)).toEqual(['TLS_NOT_REQUIRED', 'POLICY_PUBLIC_BLOCKED']);
  });

  it('a PutBucketPolicy denied by the guard\'s own role stays FAILED', async () => {
    bucket({ policy: POLICY });
    s3.on(PutBucketPolicyCommand).rejects(s3Error('AccessDenied', 403, { message: 'User: x is not authorized to perform: s3:PutBucketPolicy because no identity-based policy allows the s3:PutBucketPolicy action' }));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'enforce' } }))));
    expect(finding).toMatchObject({ action: 'FAILED' });
    expect(finding.violations.map((v) => v.code)).toContain('ACCESS_DENIED');
  });
});

describe('enforceBucket when a guardrail read is denied', () => {
  it('neither adds nor removes the TLS statement while the website configuration cannot be read, and says so', async () => {
    const state = bucket({ policy: POLICY });
    s3.on(GetBucketWebsiteCommand).rejects(s3Error('AccessDenied', 403));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'enforce' } }))));
    expect(finding.violations).toEqual([expect.objectContaining({ code: 'WEBSITE_UNREADABLE', severity: 'violation' })]);
    expect(finding.verdict).toBe('NONCOMPLIANT');
    expect(state.policy()).toBe(POLICY);
  });

  it('leaves the upload statements alone while the listed key\'s aliases cannot be listed, and says so', async () => {
    const state = bucket({ encryption: { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true } });
    mockKey();
    kms.on(ListAliasesCommand).rejects(s3Error('AccessDeniedException', 400));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArns: [KEYS.listed], guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'enforce' } }))));
    expect(finding.violations).toEqual([expect.objectContaining({ code: 'KEY_ALIASES_UNREADABLE', severity: 'violation' })]);
    expect(state.policy()).toBeUndefined();
  });

  it('does not mention the aliases for a bucket that does not use the listed key (no key statement to write)', async () => {
    bucket({ encryption: { algorithm: 'aws:kms:dsse', kmsKeyId: KEYS.otherOurs } }); // stronger, our own key: complies
    mockKey();
    kms.on(ListAliasesCommand).rejects(s3Error('AccessDeniedException', 400));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArns: [KEYS.listed], guardrails: { ...DEFAULTS, PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'enforce' } }))));
    expect(finding.violations.map((v) => v.code)).not.toContain('KEY_ALIASES_UNREADABLE');
  });

  it('still enforces encryption, and says the denied Block Public Access was not checked', async () => {
    bucket({ encryption: { algorithm: 'AES256' } });
    s3.on(GetPublicAccessBlockCommand).rejects(s3Error('AccessDenied', 403));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ mode: 'SSE_KMS_AWS_MANAGED', guardrails: { ...DEFAULTS, REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'off' } }))));
    expect(finding).toMatchObject({ action: 'REMEDIATED', after: expect.objectContaining({ algorithm: 'aws:kms' }) });
    expect(finding.violations).toContainEqual(expect.objectContaining({ code: 'PUBLIC_ACCESS_BLOCK_UNREADABLE', severity: 'warning' }));
  });

  it('does not call a bucket compliant whose policy it may not read while a policy guardrail is enforced', async () => {
    bucket({ tags: { 'encryption-guard:mode': 'SSE_C' } });
    s3.on(GetBucketPolicyCommand).rejects(s3Error('AccessDenied', 403));
    const finding = findingOf(await enforceBucket(request, testGuard(config({ guardrails: { ...DEFAULTS, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'off' } }))));
    expect(finding.verdict).toBe('NONCOMPLIANT');
    expect(finding.violations).toContainEqual(expect.objectContaining({ code: 'POLICY_UNREADABLE', severity: 'violation' }));
    expect(s3.commandCalls(PutBucketPolicyCommand)).toHaveLength(0);
  });
});
