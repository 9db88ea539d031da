/** Shared facts for unit specifications: one account, one region, a handful of keys in known states. */
import type { GuardConfig } from '../../lib/config';
import type { KeyFacts } from '../../lib/key-checks';

export const ACCOUNT = '123456789012';
export const FOREIGN_ACCOUNT = '999988887777';
export const REGION = 'us-east-1';

const keyArn = (id: string, region = REGION, account = ACCOUNT): string => `arn:aws:kms:${region}:${account}:key/${id}`;

export const KEYS = {
  listed: keyArn('1111aaaa-0000-4000-8000-000000000001'),
  otherOurs: keyArn('2222bbbb-0000-4000-8000-000000000002'),
  disabled: keyArn('3333cccc-0000-4000-8000-000000000003'),
  pendingDeletion: keyArn('4444dddd-0000-4000-8000-000000000004'),
  foreign: keyArn('5555eeee-0000-4000-8000-000000000005', REGION, FOREIGN_ACCOUNT),
  awsManaged: keyArn('6666ffff-0000-4000-8000-000000000006'),
  listedWest: keyArn('7777aaaa-0000-4000-8000-000000000007', 'eu-west-1'),
} as const;

export const customerKey = (arn: string, overrides: Partial<Extract<KeyFacts, { found: true }>> = {}): KeyFacts => {
  const [, , , region, accountId] = arn.split(':');
  return {
    found: true, arn, accountId, region,
    keyState: 'Enabled', keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', keyManager: 'CUSTOMER', rotationEnabled: true,
    ...overrides,
  };
};

/** What KMS says of each key above. */
export const KEY_FACTS: ReadonlyMap<string, KeyFacts> = new Map([
  [KEYS.listed, customerKey(KEYS.listed)],
  [KEYS.otherOurs, customerKey(KEYS.otherOurs)],
  [KEYS.disabled, customerKey(KEYS.disabled, { keyState: 'Disabled', rotationEnabled: undefined })],
  [KEYS.pendingDeletion, customerKey(KEYS.pendingDeletion, { keyState: 'PendingDeletion', rotationEnabled: undefined })],
  [KEYS.awsManaged, customerKey(KEYS.awsManaged, { keyManager: 'AWS', rotationEnabled: undefined })],
  [KEYS.listedWest, customerKey(KEYS.listedWest)],
]);

export const config = (overrides: Partial<GuardConfig> = {}): GuardConfig => ({
  mode: 'SSE_S3',
  kmsKeyArns: [],
  bucketKeyEnabled: true,
  blockSseC: 'preserve',
  dryRun: false,
  exemptTag: 'encryption-guard:exempt',
  exemptBuckets: [],
  stackName: 's3-encryption-guard-dev',
  sweep: { pageSize: 1000, concurrency: 4, maxHops: 50, logCompliant: false },
  guardrails: { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' },
  reencrypt: { objects: 'off', inlineMaxObjects: 10_000, versions: 'current' },
  organization: { mode: 'off', memberAccounts: [], memberRoleName: 's3-encryption-guard-member' },
  flap: { threshold: 3, windowMinutes: 60 },
  ...overrides,
});

/** The configuration a user would deploy for each account mode. */
export const configFor = (mode: GuardConfig['mode'], overrides: Partial<GuardConfig> = {}): GuardConfig =>
  config({ mode, kmsKeyArns: mode === 'SSE_KMS_CUSTOMER_MANAGED' || mode === 'DSSE_KMS' ? [KEYS.listed] : [], bucketKeyEnabled: mode !== 'DSSE_KMS', ...overrides });
