import { ConfigError, loadConfig } from '../../lib/config';
import { KEYS } from './fixtures';

const problemsOf = (env: Record<string, string>): string => {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('configuration', () => {
  it('defaults to SSE-S3, preserve, no dry run: nothing AWS has not already done', () => {
    expect(loadConfig({})).toEqual({
      mode: 'SSE_S3', kmsKeyArns: [], bucketKeyEnabled: true, blockSseC: 'preserve', dryRun: false,
      exemptTag: 'encryption-guard:exempt', exemptBuckets: [],
      sweep: { pageSize: 1000, concurrency: 16, maxHops: 50, logCompliant: false },
      guardrails: { PUBLIC_ACCESS_BLOCK: 'report', REQUIRE_TLS: 'report', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'report' },
      flap: { threshold: 3, windowMinutes: 60 },
      reencrypt: { objects: 'off', inlineMaxObjects: 10_000, versions: 'current' },
      organization: { mode: 'off', memberAccounts: [], memberRoleName: 's3-encryption-guard-member' },
    });
  });

  it('reads the hub settings', () => {
    expect(loadConfig({ ORGANIZATION: 'hub', ORGANIZATION_ID: 'o-a1b2c3d4e5' }).organization).toEqual({ mode: 'hub', memberAccounts: [], organizationId: 'o-a1b2c3d4e5', memberRoleName: 's3-encryption-guard-member' });
    expect(loadConfig({ ORGANIZATION: 'hub', MEMBER_ACCOUNTS: '111111111111' }).organization).toEqual({ mode: 'hub', memberAccounts: ['111111111111'], memberRoleName: 's3-encryption-guard-member' });
  });

  it('treats the empty values serverless passes for unset params as unset', () => {
    expect(loadConfig({ ENCRYPTION_MODE: 'SSE_S3', KMS_KEY_ARN: '', BUCKET_KEY_ENABLED: '', EXEMPT_BUCKETS: '' }).mode).toBe('SSE_S3');
  });

  it('reads every setting', () => {
    expect(loadConfig({
      ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: ` ${KEYS.listed} , ${KEYS.listedWest}`, BUCKET_KEY_ENABLED: 'false',
      BLOCK_SSE_C: 'block', DRY_RUN: 'true', EXEMPT_TAG: 'security:skip', EXEMPT_BUCKETS: 'logs-*, exact-name', GUARD_STACK_NAME: 'guard-prod',
      SWEEP_PAGE_SIZE: '500', SWEEP_CONCURRENCY: '8', SWEEP_MAX_HOPS: '20', SWEEP_LOG_COMPLIANT: 'true',
      PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'enforce', DENY_WEAKER_UPLOADS: 'report',
      FLAP_TABLE: 'guard-ledger', FLAP_THRESHOLD: '5', FLAP_WINDOW_MINUTES: '30',
      REENCRYPT_OBJECTS: 'enforce', REENCRYPT_INLINE_MAX_OBJECTS: '500', REENCRYPT_VERSIONS: 'all',
      ORGANIZATION: 'off', MEMBER_ACCOUNTS: '111111111111, 222222222222', ORGANIZATION_ID: 'o-a1b2c3d4e5', MEMBER_ROLE_NAME: 'guard-member',
    })).toEqual({
      mode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArns: [KEYS.listed, KEYS.listedWest], bucketKeyEnabled: false, blockSseC: 'block',
      dryRun: true, exemptTag: 'security:skip', exemptBuckets: ['logs-*', 'exact-name'], stackName: 'guard-prod',
      sweep: { pageSize: 500, concurrency: 8, maxHops: 20, logCompliant: true },
      guardrails: { PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'enforce', DENY_WEAKER_UPLOADS: 'report' },
      flap: { table: 'guard-ledger', threshold: 5, windowMinutes: 30 },
      reencrypt: { objects: 'enforce', inlineMaxObjects: 500, versions: 'all' },
      organization: { mode: 'off', memberAccounts: ['111111111111', '222222222222'], organizationId: 'o-a1b2c3d4e5', memberRoleName: 'guard-member' },
    });
  });

  it.each([
    [{ ENCRYPTION_MODE: 'AES256' }, /ENCRYPTION_MODE \(param encryptionMode\) must be one of SSE_S3, .*got "AES256"/],
    [{ ENCRYPTION_MODE: 'SSE_C' }, /ENCRYPTION_MODE .*cannot be SSE_C.*per bucket/],
    [{ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED' }, /KMS_KEY_ARN \(param kmsKeyArn\) is required for SSE_KMS_CUSTOMER_MANAGED/],
    [{ ENCRYPTION_MODE: 'DSSE_KMS' }, /KMS_KEY_ARN .*is required for DSSE_KMS/],
    [{ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: 'not-an-arn' }, /KMS_KEY_ARN .*malformed key ARN "not-an-arn"/],
    [{ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: 'arn:aws:kms:us-east-1:123456789012:alias/my-key' }, /KMS_KEY_ARN .*not aliases/],
    [{ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: `${KEYS.listed},${KEYS.otherOurs}` }, /KMS_KEY_ARN .*two keys for us-east-1/],
    [{ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: KEYS.listedWest, AWS_REGION: 'us-east-1' }, /KMS_KEY_ARN .*lists no key in us-east-1, where the guard runs/],
    [{ BUCKET_KEY_ENABLED: 'yes' }, /BUCKET_KEY_ENABLED .*"true" or "false", got "yes"/],
    [{ DRY_RUN: '1' }, /DRY_RUN \(param dryRun\) must be "true" or "false"/],
    [{ BLOCK_SSE_C: 'deny' }, /BLOCK_SSE_C \(param blockSseC\) must be one of preserve, block, allow/],
    [{ EXEMPT_TAG: 'aws:exempt' }, /EXEMPT_TAG .*not starting with "aws:"/],
    [{ EXEMPT_BUCKETS: 'Logs_Bucket' }, /EXEMPT_BUCKETS .*"Logs_Bucket"/],
    [{ SWEEP_PAGE_SIZE: '20000' }, /SWEEP_PAGE_SIZE \(param sweepPageSize\) must be a whole number from 1 to 10000/],
    [{ SWEEP_CONCURRENCY: '0' }, /SWEEP_CONCURRENCY .*from 1 to 64/],
    [{ SWEEP_MAX_HOPS: '2.5' }, /SWEEP_MAX_HOPS .*whole number/],
    [{ SWEEP_LOG_COMPLIANT: 'yes' }, /SWEEP_LOG_COMPLIANT .*"true" or "false"/],
    [{ REQUIRE_TLS: 'on' }, /REQUIRE_TLS \(param requireTls\) must be one of enforce, report, off, got "on"/],
    [{ PUBLIC_ACCESS_BLOCK: 'ENFORCE' }, /PUBLIC_ACCESS_BLOCK \(param publicAccessBlock\) must be one of/],
    [{ REENCRYPT_OBJECTS: 'on' }, /REENCRYPT_OBJECTS \(param reencryptObjects\) must be one of off, report, enforce, got "on"/],
    [{ REENCRYPT_INLINE_MAX_OBJECTS: '0' }, /REENCRYPT_INLINE_MAX_OBJECTS \(param reencryptInlineMaxObjects\) must be a whole number/],
    [{ REENCRYPT_VERSIONS: 'noncurrent' }, /REENCRYPT_VERSIONS \(param reencryptVersions\) must be one of current, all/],
    [{ ORGANIZATION: 'org' }, /ORGANIZATION \(param organization\) must be one of off, hub, got "org"/],
    [{ ORGANIZATION: 'hub' }, /ORGANIZATION \(param organization\) is hub, so memberAccounts or organizationId must say which accounts/],
    [{ MEMBER_ACCOUNTS: '1234' }, /MEMBER_ACCOUNTS \(param memberAccounts\) has "1234", which is not a 12-digit account id/],
    [{ ORGANIZATION_ID: 'r-abcd' }, /ORGANIZATION_ID \(param organizationId\) must be an organization id like o-a1b2c3d4e5, got "r-abcd"/],
    [{ ORGANIZATION: 'hub', ORGANIZATION_ID: 'o-a1b2c3d4e5', REENCRYPT_OBJECTS: 'report' }, /REENCRYPT_OBJECTS \(param reencryptObjects\) must be off with organization=hub/],
    [{ MEMBER_ACCOUNTS: Array.from({ length: 51 }, (_, i) => String(100000000000 + i)).join(',') }, /MEMBER_ACCOUNTS \(param memberAccounts\) lists 51 accounts, at most 50 .*give organizationId instead/],
    [{ MEMBER_ROLE_NAME: 'a/b' }, /MEMBER_ROLE_NAME \(param memberRoleName\) must be an IAM role name/],
  ])('rejects %j with a message naming the setting', (env, message) => {
    expect(problemsOf(env)).toMatch(message);
  });

  it('accepts listed keys in every mode: for buckets tagged with a key mode, and shared keys of other accounts', () => {
    expect(loadConfig({ ENCRYPTION_MODE: 'SSE_S3', KMS_KEY_ARN: KEYS.listed }).kmsKeyArns).toEqual([KEYS.listed]);
    expect(loadConfig({ ENCRYPTION_MODE: 'SSE_KMS_AWS_MANAGED', KMS_KEY_ARN: KEYS.listedWest, AWS_REGION: 'us-east-1' }).kmsKeyArns).toEqual([KEYS.listedWest]);
  });

  it('keeps the bucket key on under a DSSE account mode: it applies to buckets tagged with an SSE-KMS mode (DSSE rules never get one)', () => {
    expect(loadConfig({ ENCRYPTION_MODE: 'DSSE_KMS', KMS_KEY_ARN: KEYS.listed }).bucketKeyEnabled).toBe(true);
    expect(loadConfig({ ENCRYPTION_MODE: 'DSSE_KMS', KMS_KEY_ARN: KEYS.listed, BUCKET_KEY_ENABLED: 'false' }).bucketKeyEnabled).toBe(false);
  });

  it('names every wrong setting in one message', () => {
    const message = problemsOf({ ENCRYPTION_MODE: 'nope', DRY_RUN: 'maybe' });
    expect(message).toMatch(/^Invalid s3-encryption-guard configuration: ENCRYPTION_MODE .*; DRY_RUN /);
  });
});
