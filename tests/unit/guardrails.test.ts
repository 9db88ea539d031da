import fc from 'fast-check';
import type { GuardrailSetting } from '../../lib/config';
import { evaluateGuardrails, type GuardrailInput, POLICY_SIZE_LIMIT, type Statement } from '../../lib/guardrails';
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

  it('denies uploads that ask for AES256 in the AWS managed mode, never uploads without a header', () => {
    const [statement] = enforce('SSE_KMS_AWS_MANAGED').policyPlan?.document?.Statement ?? [];
    expect(statement).toEqual({
      Sid: 'EncryptionGuardDenyWeakerEncryption', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `${BUCKET_ARN}/*`,
      Condition: { Null: { 's3:x-amz-server-side-encryption': 'false' }, StringNotEquals: { 's3:x-amz-server-side-encryption': ['aws:kms', 'aws:kms:dsse'] } },
    });
  });

  it('in customer-managed mode also denies another key, and aws:kms without a key id (S3 would use aws/s3)', () => {
    const statements = enforce('SSE_KMS_CUSTOMER_MANAGED', KEYS.listed).policyPlan?.document?.Statement ?? [];
    expect(statements.map((s) => s.Sid)).toEqual(['EncryptionGuardDenyWeakerEncryption', 'EncryptionGuardDenyOtherKmsKeys', 'EncryptionGuardDenyAwsManagedKey']);
    expect(statements[1].Condition).toEqual({
      Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
      StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': [KEYS.listed, KEYS.listed.split('/')[1]] },
    });
    expect(statements[2].Condition).toEqual({ Null: { 's3:x-amz-server-side-encryption': 'false', 's3:x-amz-server-side-encryption-aws-kms-key-id': 'true' } });
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
  it('requires the SSE-C header on uploads, AWS service principals excepted', () => {
    const result = evaluateGuardrails(input({ mode: 'SSE_C', policy: policy(FOREIGN_LOGS) }));
    expect(codes(result)).toEqual(['SSE_C_NOT_REQUIRED:violation']);
    expect(result.policyPlan?.document?.Statement).toEqual([FOREIGN_LOGS, {
      Sid: 'EncryptionGuardRequireSseC', Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: `${BUCKET_ARN}/*`,
      Condition: { Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'true' }, Bool: { 'aws:PrincipalIsAWSService': 'false' } },
    }]);
  });

  it('removes the SSE-C statement when the bucket leaves SSE_C mode', () => {
    const sseC = evaluateGuardrails(input({ mode: 'SSE_C', policy: policy(FOREIGN_READ) })).policyPlan!.text!;
    const result = evaluateGuardrails(input({ mode: 'SSE_S3', policy: sseC }));
    expect(result.policyPlan?.document?.Statement).toEqual([FOREIGN_READ]);
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
