import fc from 'fast-check';
import type { GuardrailSetting } from '../../lib/config';
import { ALL_BLOCKED, evaluateGuardrails, type GuardrailInput, POLICY_SIZE_LIMIT, type Statement } from '../../lib/guardrails';
import { KEYS, REGION } from './fixtures';

const OFF = { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' } as const;
const BUCKET_ARN = 'arn:aws:s3:::app-data';

const input = (overrides: Partial<GuardrailInput> = {}): GuardrailInput => ({
  bucket: 'app-data', region: REGION, mode: 'SSE_S3', settings: { ...OFF }, policy: null, ...overrides,
});
const policy = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const sidsOf = (document: { Statement: Statement[] } | null | undefined): (string | undefined)[] => document?.Statement.map((s) => s.Sid) ?? [];
const codes = (result: ReturnType<typeof evaluateGuardrails>) => result.violations.map((v) => `${v.code}:${v.severity}`);

const FOREIGN_READ = { Sid: 'AllowPartnerRead', Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::111122223333:root' }, Action: ['s3:GetObject'], Resource: `${BUCKET_ARN}/*` };
const FOREIGN_LOGS = { Effect: 'Allow', Principal: { Service: 'logging.s3.amazonaws.com' }, Action: 's3:PutObject', Resource: `${BUCKET_ARN}/logs/*` };

describe('Block Public Access', () => {
  it.each([
    ['report', 'warning', undefined],
    ['enforce', 'violation', { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true }],
  ] as const)('%s: a bucket with a flag off gets PUBLIC_ACCESS_NOT_BLOCKED (%s)', (setting, severity, plan) => {
    const result = evaluateGuardrails(input({ settings: { ...OFF, PUBLIC_ACCESS_BLOCK: setting }, publicAccessBlock: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: false, RestrictPublicBuckets: true } }));
    expect(result.violations).toEqual([{ code: 'PUBLIC_ACCESS_NOT_BLOCKED', severity, detail: expect.stringMatching(/BlockPublicPolicy/) }]);
    expect(result.publicAccessBlockPlan).toEqual(plan);
  });

  it('treats a bucket without any configuration as open, and all four flags on as compliant', () => {
    const enforce = { settings: { ...OFF, PUBLIC_ACCESS_BLOCK: 'enforce' as const } };
    expect(evaluateGuardrails(input({ ...enforce, publicAccessBlock: null })).publicAccessBlockPlan).toBeDefined();
    expect(evaluateGuardrails(input({ ...enforce, publicAccessBlock: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } }))).toEqual({ violations: [] });
  });
});

describe('REQUIRE_TLS and REQUIRE_SIGV4', () => {
  it('enforce adds the TLS statement after the foreign ones, which stay exactly as they were', () => {
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: policy(FOREIGN_READ, FOREIGN_LOGS) }));
    expect(codes(result)).toEqual(['TLS_NOT_REQUIRED:violation']);
    expect(result.policyPlan?.document?.Statement).toEqual([FOREIGN_READ, FOREIGN_LOGS, {
      Sid: 'EncryptionGuardRequireTls', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`],
      Condition: { Bool: { 'aws:SecureTransport': 'false' } },
    }]);
  });

  it('names the bucket in the partition of the guard\'s own ARN, whatever partition that is', () => {
    for (const partition of ['aws-cn', 'aws-us-gov', 'aws-iso-b', 'aws-eusc']) {
      const result = evaluateGuardrails(input({ partition, settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: null }));
      expect(result.policyPlan?.document?.Statement[0]).toMatchObject({ Resource: [`arn:${partition}:s3:::app-data`, `arn:${partition}:s3:::app-data/*`] });
    }
  });

  it('report only warns, and writes nothing', () => {
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'report' }, policy: policy(FOREIGN_READ) }));
    expect(codes(result)).toEqual(['TLS_NOT_REQUIRED:warning']);
    expect(result.policyPlan).toBeUndefined();
  });

  it('accepts a statement of the owner\'s that already denies plain HTTP, adding nothing', () => {
    const own = { Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: { AWS: '*' }, Action: 's3:*', Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`], Condition: { Bool: { 'aws:SecureTransport': false } } };
    expect(evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: policy(own) }))).toEqual({ violations: [] });
  });

  const TLS_DENY = { Sid: 'OwnersTls', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } };
  it.each([
    ['one resource pattern covering the bucket and its objects', { Resource: `${BUCKET_ARN}*` }],
    ['every bucket of the partition', { Resource: 'arn:aws:s3:::*' }],
    ['"*" as resource, action and principal', { Resource: '*', Action: '*', Principal: { AWS: ['*'] } }],
    ['the objects as bucket/* beside the bucket, in a list of actions', { Resource: [`${BUCKET_ARN}/*`, BUCKET_ARN], Action: ['s3:*'] }],
  ])('counts an owner\'s statement as equivalent: %s', (_, change) => {
    expect(evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: policy({ ...TLS_DENY, ...change }) }))).toEqual({ violations: [] });
  });

  it.each([
    ['only one prefix of the bucket', { Resource: `${BUCKET_ARN}/logs/*` }, /covers arn:aws:s3:::app-data\/logs\/\*, not every object/],
    ['only the objects, not the bucket', { Resource: `${BUCKET_ARN}/*` }, /does not cover the bucket/],
    ['another bucket', { Resource: ['arn:aws:s3:::other-bucket', 'arn:aws:s3:::other-bucket/*'] }, /does not cover the bucket/],
    ['one partner account', { Principal: { AWS: 'arn:aws:iam::111122223333:root' } }, /applies only to/],
    ['only reads', { Action: ['s3:GetObject'] }, /denies only s3:GetObject/],
    ['an extra condition', { Condition: { Bool: { 'aws:SecureTransport': 'false' }, StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } } }, /has the condition/],
    ['NotPrincipal', { Principal: undefined, NotPrincipal: { AWS: 'arn:aws:iam::111122223333:root' } }, /uses NotPrincipal/],
    ['NotResource', { Resource: undefined, NotResource: `${BUCKET_ARN}/public/*` }, /uses NotResource/],
  ])('reports a narrower TLS statement (%s) for what it is and adds its own beside it', (_, change, reason) => {
    const narrower = JSON.parse(JSON.stringify({ ...TLS_DENY, ...change }));
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: policy(narrower) }));
    expect(result.violations).toEqual([{ code: 'TLS_NOT_REQUIRED', severity: 'violation', detail: expect.stringMatching(reason) }]);
    expect(result.violations[0].detail).toMatch(/statement "OwnersTls" is narrower/);
    expect(result.policyPlan?.document?.Statement).toEqual([narrower, expect.objectContaining({ Sid: 'EncryptionGuardRequireTls' })]);
  });

  it('applies the same strict test to an owner\'s SigV2 statement', () => {
    const sigV2 = { Sid: 'NoSigV2OnLogs', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: `${BUCKET_ARN}/logs/*`, Condition: { StringEquals: { 's3:signatureversion': 'AWS' } } };
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_SIGV4: 'enforce' }, policy: policy(sigV2) }));
    expect(result.violations[0]).toMatchObject({ code: 'SIGV4_NOT_REQUIRED', detail: expect.stringMatching(/"NoSigV2OnLogs" is narrower/) });
    expect(sidsOf(result.policyPlan?.document)).toEqual(['NoSigV2OnLogs', 'EncryptionGuardRequireSigV4']);
    const whole = { ...sigV2, Resource: [BUCKET_ARN, `${BUCKET_ARN}/*`] };
    expect(evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_SIGV4: 'enforce' }, policy: policy(whole) }))).toEqual({ violations: [] });
  });

  it('denies only SigV2-signed requests, leaving anonymous ones to Block Public Access', () => {
    const statement = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_SIGV4: 'enforce' } })).policyPlan?.document?.Statement[0];
    expect(statement).toMatchObject({ Sid: 'EncryptionGuardRequireSigV4', Effect: 'Deny', Condition: { StringEquals: { 's3:signatureversion': 'AWS' } } });
  });

  it('uses the partition of the bucket\'s region in resource ARNs', () => {
    const statement = evaluateGuardrails(input({ region: 'cn-north-1', settings: { ...OFF, REQUIRE_TLS: 'enforce' } })).policyPlan?.document?.Statement[0];
    expect(statement?.Resource).toEqual(['arn:aws-cn:s3:::app-data', 'arn:aws-cn:s3:::app-data/*']);
  });
});

describe('DENY_WEAKER_UPLOADS', () => {
  const enforce = (mode: GuardrailInput['mode'], keyArn?: string) =>
    evaluateGuardrails(input({ mode, keyArn, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } }));

  it('needs no statement in SSE_S3 mode: nothing weaker can be asked for', () => {
    expect(enforce('SSE_S3')).toEqual({ violations: [] });
  });

  const EXCEPT_SERVICES = { BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' } };

  it('denies uploads that ask for AES256 in the AWS managed mode, never uploads without a header, nor AWS service deliveries', () => {
    const statements = enforce('SSE_KMS_AWS_MANAGED').policyPlan?.document?.Statement ?? [];
    expect(statements).toEqual([{
      Sid: 'EncryptionGuardDenyWeakerEncryption', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `${BUCKET_ARN}/*`,
      Condition: { Null: { 's3:x-amz-server-side-encryption': 'false' }, StringNotEquals: { 's3:x-amz-server-side-encryption': ['aws:kms', 'aws:kms:dsse'] }, ...EXCEPT_SERVICES },
    }]);
  });

  it('in customer-managed mode also denies another key, aws:kms without a key id (S3 would use aws/s3), and SSE-C', () => {
    const statements = enforce('SSE_KMS_CUSTOMER_MANAGED', KEYS.listed).policyPlan?.document?.Statement ?? [];
    expect(statements.map((s) => s.Sid)).toEqual(['EncryptionGuardDenyWeakerEncryption', 'EncryptionGuardDenyOtherKmsKeys', 'EncryptionGuardDenyAwsManagedKey', 'EncryptionGuardDenySseC']);
    expect(statements[1].Condition).toEqual({
      Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
      StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': [KEYS.listed, KEYS.listed.split('/')[1]] },
      ...EXCEPT_SERVICES,
    });
    expect(statements[2].Condition).toEqual({ Null: { 's3:x-amz-server-side-encryption': 'false', 's3:x-amz-server-side-encryption-aws-kms-key-id': 'true' }, ...EXCEPT_SERVICES });
    expect(statements[3].Condition).toEqual({ Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'false' }, ...EXCEPT_SERVICES });
  });

  it('allows the listed key by its aliases too, names and ARNs', () => {
    const aliases = ['alias/app-data', `arn:aws:kms:${REGION}:123456789012:alias/app-data`];
    const result = evaluateGuardrails(input({ mode: 'SSE_KMS_CUSTOMER_MANAGED', keyArn: KEYS.listed, keyAliases: aliases, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } }));
    const otherKeys = result.policyPlan?.document?.Statement.find((s) => s.Sid === 'EncryptionGuardDenyOtherKmsKeys');
    expect((otherKeys?.Condition as Record<string, Record<string, string[]>>).StringNotEquals['s3:x-amz-server-side-encryption-aws-kms-key-id'])
      .toEqual([KEYS.listed, KEYS.listed.split('/')[1], ...aliases.sort()]);
  });

  it('leaves the upload statements alone while the key\'s aliases cannot be listed: a statement without them would deny uploads naming an alias', () => {
    const before = evaluateGuardrails(input({ mode: 'SSE_KMS_CUSTOMER_MANAGED', keyArn: KEYS.listed, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } })).policyPlan!.text!;
    const result = evaluateGuardrails(input({ mode: 'SSE_KMS_CUSTOMER_MANAGED', keyArn: KEYS.listed, keyAliases: 'unknown', policy: before, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } }));
    expect(result).toEqual({ violations: [] });
    expect(evaluateGuardrails(input({ mode: 'SSE_KMS_CUSTOMER_MANAGED', keyArn: KEYS.listed, keyAliases: 'unknown', settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } }))).toEqual({ violations: [] });
  });

  it('does not deny SSE-C where BLOCK_SSE_C=allow asks for SSE-C uploads', () => {
    const statements = evaluateGuardrails(input({ mode: 'DSSE_KMS', keyArn: KEYS.listed, sseCAllowed: true, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } })).policyPlan?.document?.Statement ?? [];
    expect(statements.map((s) => s.Sid)).not.toContain('EncryptionGuardDenySseC');
  });

  it('in DSSE mode allows only aws:kms:dsse', () => {
    const [statement] = enforce('DSSE_KMS', KEYS.listed).policyPlan?.document?.Statement ?? [];
    expect(statement.Condition).toMatchObject({ StringNotEquals: { 's3:x-amz-server-side-encryption': ['aws:kms:dsse'] } });
  });

  it('updates its statements in place when the bucket\'s mode changes', () => {
    const first = enforce('SSE_KMS_CUSTOMER_MANAGED', KEYS.listed).policyPlan!.text!;
    const withForeign = JSON.stringify({ ...JSON.parse(first), Statement: [FOREIGN_READ, ...JSON.parse(first).Statement, FOREIGN_LOGS] });
    const result = evaluateGuardrails(input({ mode: 'SSE_KMS_AWS_MANAGED', policy: withForeign, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } }));
    expect(sidsOf(result.policyPlan?.document)).toEqual(['AllowPartnerRead', 'EncryptionGuardDenyWeakerEncryption', undefined]);
  });
});

describe('SSE_C mode', () => {
  it('adds no deny by default: multipart uploads whose Complete carries no SSE-C headers keep working', () => {
    expect(evaluateGuardrails(input({ mode: 'SSE_C', policy: policy(FOREIGN_LOGS) }))).toEqual({ violations: [] });
  });

  it('with tag encryption-guard:sse-c-deny=true requires the SSE-C header on uploads, AWS service principals excepted, and says what clients must send', () => {
    const result = evaluateGuardrails(input({ mode: 'SSE_C', sseCDeny: true, policy: policy(FOREIGN_LOGS) }));
    expect(result.violations).toEqual([{ code: 'SSE_C_NOT_REQUIRED', severity: 'violation', detail: expect.stringMatching(/CompleteMultipartUpload/) }]);
    expect(result.policyPlan?.document?.Statement).toEqual([FOREIGN_LOGS, {
      Sid: 'EncryptionGuardRequireSseC', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `${BUCKET_ARN}/*`,
      Condition: { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'true' }, BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' } },
    }]);
  });

  it('removes the SSE-C statement when the bucket leaves SSE_C mode, or the tag is removed', () => {
    const sseC = evaluateGuardrails(input({ mode: 'SSE_C', sseCDeny: true, policy: policy(FOREIGN_READ) })).policyPlan!.text!;
    expect(evaluateGuardrails(input({ mode: 'SSE_S3', policy: sseC })).policyPlan?.document?.Statement).toEqual([FOREIGN_READ]);
    expect(evaluateGuardrails(input({ mode: 'SSE_C', policy: sseC })).policyPlan?.document?.Statement).toEqual([FOREIGN_READ]);
  });
});

describe('website buckets', () => {
  const tls = { settings: { ...OFF, REQUIRE_TLS: 'enforce' as const } };

  it.each(['enforce', 'report'] as const)('REQUIRE_TLS=%s writes no TLS deny on a website bucket and says why and what to do', (setting) => {
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: setting }, website: true, policy: policy(FOREIGN_READ) }));
    expect(result.violations).toEqual([{ code: 'TLS_NOT_ENFORCEABLE_WEBSITE', severity: 'warning', detail: expect.stringMatching(/HTTP only.*CloudFront with HTTPS to the bucket's REST endpoint and origin access control/) }]);
    expect(result.policyPlan).toBeUndefined();
  });

  it('removes the guard\'s earlier TLS statement from a bucket that became a website', () => {
    const written = evaluateGuardrails(input({ ...tls, policy: policy(FOREIGN_READ) })).policyPlan!.text!;
    const result = evaluateGuardrails(input({ ...tls, website: true, policy: written }));
    expect(result.violations).toEqual([expect.objectContaining({ code: 'TLS_NOT_ENFORCEABLE_WEBSITE', detail: expect.stringMatching(/the guard's own TLS statement is removed/) })]);
    expect(result.policyPlan?.document?.Statement).toEqual([FOREIGN_READ]);
  });

  it('neither adds nor removes the TLS statement while the website configuration cannot be read', () => {
    const written = evaluateGuardrails(input({ ...tls })).policyPlan!.text!;
    expect(evaluateGuardrails(input({ ...tls, website: 'unknown', policy: written }))).toEqual({ violations: [] });
    expect(evaluateGuardrails(input({ ...tls, website: 'unknown', policy: null }))).toEqual({ violations: [] });
  });
});

describe('a policy S3 would reject as public', () => {
  const PUBLIC_READ = { Sid: 'PublicRead', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: `${BUCKET_ARN}/*` };
  const blocked = { ...ALL_BLOCKED };

  it('is not written while BlockPublicPolicy is on: POLICY_PUBLIC_BLOCKED names the public statement', () => {
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'enforce' }, publicAccessBlock: blocked, policy: policy(FOREIGN_READ, PUBLIC_READ) }));
    expect(result.policyPlan).toBeUndefined();
    expect(result.violations).toEqual([
      expect.objectContaining({ code: 'TLS_NOT_REQUIRED' }),
      { code: 'POLICY_PUBLIC_BLOCKED', severity: 'violation', detail: expect.stringMatching(/statement "PublicRead".*BlockPublicPolicy is on/) },
    ]);
  });

  it('is not written while the guard itself turns BlockPublicPolicy on', () => {
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'enforce' }, publicAccessBlock: null, policy: policy(PUBLIC_READ) }));
    expect(result.publicAccessBlockPlan).toEqual(ALL_BLOCKED);
    expect(result.policyPlan).toBeUndefined();
    expect(result.violations.map((v) => v.code)).toContain('POLICY_PUBLIC_BLOCKED');
  });

  it('is written when BlockPublicPolicy is off and stays off, and a non-public policy always is', () => {
    const off = { ...ALL_BLOCKED, BlockPublicPolicy: false };
    expect(evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce', PUBLIC_ACCESS_BLOCK: 'report' }, publicAccessBlock: off, policy: policy(PUBLIC_READ) })).policyPlan).toBeDefined();
    expect(evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, publicAccessBlock: blocked, policy: policy(FOREIGN_READ) })).policyPlan).toBeDefined();
  });
});

describe('policy merge safety', () => {
  it('writes nothing when nothing differs, even if S3 returned the policy reformatted', () => {
    const written = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: policy(FOREIGN_READ) })).policyPlan!.text!;
    const reformatted = JSON.stringify(JSON.parse(written), null, 2).replace('"Action": "s3:*"', '"Action": ["s3:*"]');
    expect(evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: reformatted }))).toEqual({ violations: [] });
  });

  it('deletes a policy left with only the guard\'s statements turned off', () => {
    const written = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' } })).policyPlan!.text!;
    expect(evaluateGuardrails(input({ policy: written })).policyPlan).toEqual({ document: null, text: null });
  });

  it('keeps a guard statement as it is while its setting is report', () => {
    const written = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' } })).policyPlan!.text!;
    expect(evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'report' }, policy: written }))).toEqual({ violations: [] });
  });

  it('in report keeps the guard\'s earlier statements current: a new key, or a mode that needs none', () => {
    const pinned = evaluateGuardrails(input({ mode: 'SSE_KMS_CUSTOMER_MANAGED', keyArn: KEYS.listed, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'enforce' } })).policyPlan!.text!;
    const rotated = evaluateGuardrails(input({ mode: 'SSE_KMS_CUSTOMER_MANAGED', keyArn: KEYS.otherOurs, policy: pinned, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'report' } }));
    expect(JSON.stringify(rotated.policyPlan?.document)).toContain(KEYS.otherOurs);
    expect(JSON.stringify(rotated.policyPlan?.document)).not.toContain(KEYS.listed);
    const relaxed = evaluateGuardrails(input({ mode: 'SSE_S3', policy: pinned, settings: { ...OFF, DENY_WEAKER_UPLOADS: 'report' } }));
    expect(relaxed.policyPlan).toEqual({ document: null, text: null });
  });

  it('in report adds nothing new', () => {
    expect(evaluateGuardrails(input({ mode: 'SSE_KMS_AWS_MANAGED', policy: policy(FOREIGN_READ), settings: { ...OFF, DENY_WEAKER_UPLOADS: 'report' } })).policyPlan).toBeUndefined();
  });

  it('keeps a single-statement policy (Statement as an object) and its Id', () => {
    const text = JSON.stringify({ Version: '2012-10-17', Id: 'partner-policy', Statement: FOREIGN_READ });
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: text }));
    expect(result.policyPlan?.document).toMatchObject({ Id: 'partner-policy', Statement: [FOREIGN_READ, expect.objectContaining({ Sid: 'EncryptionGuardRequireTls' })] });
  });

  it('reports a merged policy over 20 KB instead of writing it', () => {
    // Foreign statements up to just under S3's limit: the guard's statement would push it over.
    const big: object[] = [];
    const next = (i: number) => ({ ...FOREIGN_READ, Sid: `Partner${i}`, Resource: `${BUCKET_ARN}/partners/${i}/*` });
    while (policy(...big, next(big.length)).length < POLICY_SIZE_LIMIT - 100) big.push(next(big.length));
    expect(policy(...big).length).toBeLessThan(POLICY_SIZE_LIMIT);
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: policy(...big) }));
    expect(result.policyPlan).toBeUndefined();
    expect(codes(result)).toEqual(['TLS_NOT_REQUIRED:violation', 'POLICY_TOO_LARGE:violation']);
  });

  it('leaves a policy it cannot parse alone and says so', () => {
    const result = evaluateGuardrails(input({ settings: { ...OFF, REQUIRE_TLS: 'enforce' }, policy: '{"Statement": "not a list of statements"' }));
    expect(result).toEqual({ violations: [expect.objectContaining({ code: 'POLICY_UNREADABLE' })] });
  });

  it('reads nothing of a policy it was not given (every policy setting off)', () => {
    expect(evaluateGuardrails(input({ policy: undefined }))).toEqual({ violations: [] });
  });
});

describe('policy merge properties (fast-check)', () => {
  const sid = fc.oneof(fc.constant(undefined), fc.string({ maxLength: 12 }).filter((s) => !s.startsWith('EncryptionGuard')));
  const foreignStatement = fc.record({
    Sid: sid,
    Effect: fc.constantFrom('Allow', 'Deny'),
    Principal: fc.oneof(fc.constant('*'), fc.record({ AWS: fc.constantFrom('arn:aws:iam::111122223333:root', '222233334444') }), fc.record({ Service: fc.constantFrom('logging.s3.amazonaws.com', 'cloudtrail.amazonaws.com') })),
    Action: fc.oneof(fc.constantFrom('s3:GetObject', 's3:PutObject', 's3:*'), fc.array(fc.constantFrom('s3:GetObject', 's3:ListBucket', 's3:PutObject'), { minLength: 1, maxLength: 3 })),
    Resource: fc.constantFrom(BUCKET_ARN, `${BUCKET_ARN}/*`, [BUCKET_ARN, `${BUCKET_ARN}/*`]),
    Condition: fc.option(fc.record({ StringEquals: fc.record({ 'aws:PrincipalOrgID': fc.constantFrom('o-abc123', 'o-def456') }) }), { nil: undefined }),
  }, { requiredKeys: ['Effect', 'Principal', 'Action', 'Resource'] });
  const foreignPolicy = fc.array(foreignStatement, { maxLength: 8 });
  const setting = fc.constantFrom<GuardrailSetting>('enforce', 'report', 'off');
  const settings = fc.record({ PUBLIC_ACCESS_BLOCK: fc.constant<GuardrailSetting>('off'), REQUIRE_TLS: setting, REQUIRE_SIGV4: setting, DENY_WEAKER_UPLOADS: setting });
  const mode = fc.constantFrom('SSE_S3', 'SSE_KMS_AWS_MANAGED', 'SSE_KMS_CUSTOMER_MANAGED', 'DSSE_KMS', 'SSE_C') as fc.Arbitrary<GuardrailInput['mode']>;
  const foreignOf = (statements: Statement[]) => statements.filter((s) => !String(s.Sid ?? '').startsWith('EncryptionGuard'));
  const applyOnce = (text: string | null, overrides: Partial<GuardrailInput>): string | null => {
    const result = evaluateGuardrails(input({ keyArn: KEYS.listed, ...overrides, policy: text }));
    return result.policyPlan ? result.policyPlan.text : text;
  };

  it('keeps every foreign statement unchanged, in order', () => {
    fc.assert(fc.property(foreignPolicy, settings, mode, (statements, chosen, required) => {
      const text = statements.length ? policy(...statements) : null;
      const after = applyOnce(text, { settings: chosen, mode: required });
      const kept = after ? foreignOf(JSON.parse(after).Statement) : [];
      expect(kept).toEqual(JSON.parse(JSON.stringify(statements)));
    }));
  });

  it('is idempotent: a second merge changes nothing', () => {
    fc.assert(fc.property(foreignPolicy, settings, mode, (statements, chosen, required) => {
      const once = applyOnce(statements.length ? policy(...statements) : null, { settings: chosen, mode: required });
      const result = evaluateGuardrails(input({ keyArn: KEYS.listed, settings: chosen, mode: required, policy: once }));
      expect(result.policyPlan).toBeUndefined();
    }));
  });

  it('turning a setting off removes exactly the guard\'s statements of that setting', () => {
    fc.assert(fc.property(foreignPolicy, mode, (statements, required) => {
      const all = { PUBLIC_ACCESS_BLOCK: 'off' as const, REQUIRE_TLS: 'enforce' as const, REQUIRE_SIGV4: 'enforce' as const, DENY_WEAKER_UPLOADS: 'enforce' as const };
      const enforced = applyOnce(statements.length ? policy(...statements) : null, { settings: all, mode: required })!;
      const withoutTls = applyOnce(enforced, { settings: { ...all, REQUIRE_TLS: 'off' }, mode: required });
      const before = JSON.parse(enforced).Statement as Statement[];
      expect(withoutTls ? JSON.parse(withoutTls).Statement : []).toEqual(before.filter((s) => s.Sid !== 'EncryptionGuardRequireTls'));
    }));
  });

  it('turns a policy of only guard statements, all turned off, into no policy', () => {
    fc.assert(fc.property(settings, mode, (chosen, required) => {
      const written = applyOnce(null, { settings: chosen, mode: required });
      const offAgain = applyOnce(written, { settings: { ...OFF }, mode: required === 'SSE_C' ? 'SSE_S3' : required });
      expect(offAgain).toBeNull();
    }));
  });
});
