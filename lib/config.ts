/**
 * The guard's configuration, read from the environment (set from `serverless.yml` params).
 * Pure and dependency-free: the deploy-time check (scripts/validate-config-plugin.cjs) bundles this
 * same file, so a wrong value fails `serverless package`/`deploy` and cold start with one message.
 */
import { ACCOUNT_MODES, type AccountMode, isAccountMode, LISTED_KEY_MODES } from './modes';
import { isAliasArn, parseKeyArn } from './kms-arn';

export type BlockSseC = 'preserve' | 'block' | 'allow';

/** A guardrail's setting: `report` adds the finding's warning, `enforce` also writes, `off` costs nothing. */
export type GuardrailSetting = 'enforce' | 'report' | 'off';
export const GUARDRAILS = {
  PUBLIC_ACCESS_BLOCK: { param: 'publicAccessBlock', fallback: 'report' },
  REQUIRE_TLS: { param: 'requireTls', fallback: 'report' },
  // SigV2 is already refused for buckets made since 2020-06-24.
  REQUIRE_SIGV4: { param: 'requireSigV4', fallback: 'off' },
  DENY_WEAKER_UPLOADS: { param: 'denyWeakerUploads', fallback: 'report' },
} as const satisfies Record<string, { param: string; fallback: GuardrailSetting }>;
export type Guardrail = keyof typeof GUARDRAILS;
const GUARDRAIL_VALUES: readonly GuardrailSetting[] = ['enforce', 'report', 'off'];

/** Re-keying existing objects in place (lib/reencrypt/): `report` estimates, `enforce` also re-keys. */
export type ReencryptSetting = 'off' | 'report' | 'enforce';
export const REENCRYPT_VALUES: readonly ReencryptSetting[] = ['off', 'report', 'enforce'];
/** `current`: the current version of each object; `all`: noncurrent versions too. */
export type ReencryptVersions = 'current' | 'all';

export interface ReencryptSettings {
  objects: ReencryptSetting;
  /** Buckets with more objects than this go to S3 Batch Operations. */
  inlineMaxObjects: number;
  versions: ReencryptVersions;
}

/** `off`: one account (the function's own); `hub`: the organisation's accounts through their member role. */
export type OrganizationSetting = 'off' | 'hub';
export const ORGANIZATION_VALUES: readonly OrganizationSetting[] = ['off', 'hub'];
/** The most accounts memberAccounts may list. */
export const MAX_MEMBER_ACCOUNTS = 50;

export interface OrganizationSettings {
  mode: OrganizationSetting;
  /** Account ids the hub may act in; empty: every active account of the organisation (Organizations ListAccounts). */
  memberAccounts: readonly string[];
  /** `o-…`: the organisation whose accounts may send events to the hub bus. */
  organizationId?: string;
  /** The role the hub assumes in each member account (at the path GUARD_ROLE_PATH). */
  memberRoleName: string;
}

export interface GuardConfig {
  mode: AccountMode;
  /** Full key ARNs, at most one per region. */
  kmsKeyArns: readonly string[];
  bucketKeyEnabled: boolean;
  blockSseC: BlockSseC;
  dryRun: boolean;
  exemptTag: string;
  /** Names or `*`/`?` globs. */
  exemptBuckets: readonly string[];
  /** The stack's name: buckets CloudFormation made for it (trail logs, deployment) are exempt. */
  stackName?: string;
  sweep: SweepSettings;
  guardrails: Record<Guardrail, GuardrailSetting>;
  flap: FlapSettings;
  reencrypt: ReencryptSettings;
  organization: OrganizationSettings;
}

export interface FlapSettings {
  /** The ledger table; without it (local runs) there is no flap protection. */
  table?: string;
  /** Remediations of one bucket undoing other actors' changes allowed within the window. */
  threshold: number;
  windowMinutes: number;
}

export interface SweepSettings {
  /** Buckets per ListBuckets page (1-10000). */
  pageSize: number;
  /** Buckets evaluated at once. */
  concurrency: number;
  /** Self-invocations one sweep may chain before it stops (runaway guard). */
  maxHops: number;
  /** Log a finding for compliant buckets too (they always count in the metrics). */
  logCompliant: boolean;
}

/** The settings a user sets: environment variable → serverless param. */
export const SETTINGS = {
  ENCRYPTION_MODE: 'encryptionMode',
  KMS_KEY_ARN: 'kmsKeyArn',
  BUCKET_KEY_ENABLED: 'bucketKeyEnabled',
  BLOCK_SSE_C: 'blockSseC',
  DRY_RUN: 'dryRun',
  EXEMPT_TAG: 'exemptTag',
  EXEMPT_BUCKETS: 'exemptBuckets',
  SWEEP_PAGE_SIZE: 'sweepPageSize',
  SWEEP_CONCURRENCY: 'sweepConcurrency',
  SWEEP_MAX_HOPS: 'sweepMaxHops',
  SWEEP_LOG_COMPLIANT: 'sweepLogCompliant',
  FLAP_THRESHOLD: 'flapThreshold',
  FLAP_WINDOW_MINUTES: 'flapWindowMinutes',
  REENCRYPT_OBJECTS: 'reencryptObjects',
  REENCRYPT_INLINE_MAX_OBJECTS: 'reencryptInlineMaxObjects',
  REENCRYPT_VERSIONS: 'reencryptVersions',
  ORGANIZATION: 'organization',
  MEMBER_ACCOUNTS: 'memberAccounts',
  ORGANIZATION_ID: 'organizationId',
  MEMBER_ROLE_NAME: 'memberRoleName',
  ...Object.fromEntries(Object.entries(GUARDRAILS).map(([name, { param }]) => [name, param])) as { [G in Guardrail]: (typeof GUARDRAILS)[G]['param'] },
} as const;
type Setting = keyof typeof SETTINGS;

export class ConfigError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`Invalid s3-encryption-guard configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

const BLOCK_SSE_C_VALUES: readonly BlockSseC[] = ['preserve', 'block', 'allow'];
const GLOB = /^[a-z0-9.\-*?]{1,63}$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;

const list = (value: string | undefined): string[] =>
  (value ?? '').split(',').map((item) => item.trim()).filter((item) => item !== '');

export const loadConfig = (env: Readonly<Record<string, string | undefined>>): GuardConfig => {
  const problems: string[] = [];
  const fail = (setting: Setting, message: string): void => {
    problems.push(`${setting} (param ${SETTINGS[setting]}) ${message}`);
  };
  const value = (setting: Setting): string | undefined => {
    const raw = env[setting]?.trim();
    return raw === '' ? undefined : raw;
  };
  const flag = (setting: Setting, fallback: boolean): boolean => {
    const raw = value(setting);
    if (raw === undefined) return fallback;
    if (raw === 'true' || raw === 'false') return raw === 'true';
    fail(setting, `must be "true" or "false", got "${raw}"`);
    return fallback;
  };

  const integer = (setting: Setting, fallback: number, min: number, max: number): number => {
    const raw = value(setting);
    if (raw === undefined) return fallback;
    const parsed = Number(raw);
    if (Number.isInteger(parsed) && parsed >= min && parsed <= max) return parsed;
    fail(setting, `must be a whole number from ${min} to ${max}, got "${raw}"`);
    return fallback;
  };

  const modeValue = value('ENCRYPTION_MODE') ?? 'SSE_S3';
  let mode: AccountMode = 'SSE_S3';
  if (isAccountMode(modeValue)) mode = modeValue;
  else if (modeValue === 'SSE_C') {
    fail('ENCRYPTION_MODE', 'cannot be SSE_C: S3 has no SSE-C default, so SSE_C is set per bucket with the tag encryption-guard:mode=SSE_C');
  } else fail('ENCRYPTION_MODE', `must be one of ${ACCOUNT_MODES.join(', ')}, got "${modeValue}"`);

  const kmsKeyArns = list(value('KMS_KEY_ARN'));
  const needsKey = LISTED_KEY_MODES.has(mode);
  if (needsKey && kmsKeyArns.length === 0) {
    fail('KMS_KEY_ARN', `is required for ${mode}: give the key ARN (one per region, comma-separated)`);
  }
  // In the other modes listed keys still count as the organisation's: for buckets tagged with a
  // customer-managed or DSSE mode, and for buckets on a shared key of another account.
  const home = env.AWS_REGION?.trim();
  if (needsKey && home && kmsKeyArns.length > 0 && !kmsKeyArns.some((arn) => parseKeyArn(arn)?.region === home)) {
    fail('KMS_KEY_ARN', `lists no key in ${home}, where the guard runs: every bucket there would be an ERROR`);
  }
  const regions = new Map<string, string>();
  for (const arn of kmsKeyArns) {
    const parsed = parseKeyArn(arn);
    if (!parsed) {
      fail('KMS_KEY_ARN', isAliasArn(arn)
        ? `must list key ARNs, not aliases ("${arn}"): an alias can be re-pointed, and S3 stores what it is given`
        : `has a malformed key ARN "${arn}" (expected arn:aws:kms:<region>:<account>:key/<key-id>)`);
    } else if (regions.has(parsed.region)) {
      fail('KMS_KEY_ARN', `lists two keys for ${parsed.region}; give at most one per region`);
    } else regions.set(parsed.region, arn);
  }

  // Applies to the SSE-KMS rules the guard writes, also under a DSSE account mode (buckets tagged with an
  // SSE-KMS mode); a DSSE rule never gets a bucket key (S3 Bucket Keys do not support DSSE-KMS).
  const bucketKeyEnabled = flag('BUCKET_KEY_ENABLED', true);

  const blockValue = value('BLOCK_SSE_C') ?? 'preserve';
  const blockSseC = BLOCK_SSE_C_VALUES.find((option) => option === blockValue);
  if (!blockSseC) fail('BLOCK_SSE_C', `must be one of ${BLOCK_SSE_C_VALUES.join(', ')}, got "${blockValue}"`);

  const exemptTag = value('EXEMPT_TAG') ?? 'encryption-guard:exempt';
  if (!TAG_KEY.test(exemptTag) || exemptTag.startsWith('aws:')) {
    fail('EXEMPT_TAG', `must be a valid tag key not starting with "aws:", got "${exemptTag}"`);
  }

  const exemptBuckets = list(value('EXEMPT_BUCKETS'));
  for (const glob of exemptBuckets) {
    if (!GLOB.test(glob)) fail('EXEMPT_BUCKETS', `has "${glob}", which is not a bucket name or a glob of one (a-z 0-9 . - * ?)`);
  }

  const dryRun = flag('DRY_RUN', false);
  const sweep: SweepSettings = {
    pageSize: integer('SWEEP_PAGE_SIZE', 1000, 1, 10000),
    concurrency: integer('SWEEP_CONCURRENCY', 16, 1, 64),
    maxHops: integer('SWEEP_MAX_HOPS', 50, 1, 1000),
    logCompliant: flag('SWEEP_LOG_COMPLIANT', false),
  };
  const guardrails = Object.fromEntries(Object.entries(GUARDRAILS).map(([name, { fallback }]) => {
    const raw = value(name as Guardrail) ?? fallback;
    const setting = GUARDRAIL_VALUES.find((option) => option === raw);
    if (!setting) fail(name as Guardrail, `must be one of ${GUARDRAIL_VALUES.join(', ')}, got "${raw}"`);
    return [name, setting ?? fallback];
  })) as Record<Guardrail, GuardrailSetting>;
  const flap: FlapSettings = {
    ...(env.FLAP_TABLE?.trim() ? { table: env.FLAP_TABLE.trim() } : {}),
    threshold: integer('FLAP_THRESHOLD', 3, 1, 100),
    windowMinutes: integer('FLAP_WINDOW_MINUTES', 60, 1, 1440),
  };
  const oneOf = <T extends string>(setting: Setting, options: readonly T[], fallback: T): T => {
    const raw = value(setting) ?? fallback;
    const found = options.find((option) => option === raw);
    if (!found) fail(setting, `must be one of ${options.join(', ')}, got "${raw}"`);
    return found ?? fallback;
  };
  const reencrypt: ReencryptSettings = {
    objects: oneOf('REENCRYPT_OBJECTS', REENCRYPT_VALUES, 'off'),
    inlineMaxObjects: integer('REENCRYPT_INLINE_MAX_OBJECTS', 10_000, 1, 1_000_000),
    versions: oneOf<ReencryptVersions>('REENCRYPT_VERSIONS', ['current', 'all'], 'current'),
  };
  const organizationMode = oneOf('ORGANIZATION', ORGANIZATION_VALUES, 'off');
  const memberAccounts = list(value('MEMBER_ACCOUNTS'));
  // Each listed account is a statement resource in three roles' policies (10,240 characters per role) and a
  // principal of the bus policy (10 KB): past this, deploys fail, so an organisation is named by its id.
  if (memberAccounts.length > MAX_MEMBER_ACCOUNTS) {
    fail('MEMBER_ACCOUNTS', `lists ${memberAccounts.length} accounts, at most ${MAX_MEMBER_ACCOUNTS} (IAM and event bus policy sizes): give organizationId instead`);
  }
  for (const account of memberAccounts) {
    if (!/^\d{12}$/.test(account)) fail('MEMBER_ACCOUNTS', `has "${account}", which is not a 12-digit account id`);
  }
  const organizationId = value('ORGANIZATION_ID');
  if (organizationId !== undefined && !/^o-[a-z0-9]{10,32}$/.test(organizationId)) {
    fail('ORGANIZATION_ID', `must be an organization id like o-a1b2c3d4e5, got "${organizationId}"`);
  }
  if (organizationMode === 'hub' && memberAccounts.length === 0 && organizationId === undefined) {
    fail('ORGANIZATION', 'is hub, so memberAccounts or organizationId must say which accounts the hub may act in');
  }
  if (organizationMode === 'hub' && reencrypt.objects !== 'off') {
    fail('REENCRYPT_OBJECTS', 'must be off with organization=hub: the hub does not re-key objects in member accounts yet (README "Organisation")');
  }
  const memberRoleName = value('MEMBER_ROLE_NAME') ?? 's3-encryption-guard-member';
  if (!/^[\w+=,.@-]{1,64}$/.test(memberRoleName)) fail('MEMBER_ROLE_NAME', `must be an IAM role name (1-64 of letters, digits and +=,.@_-), got "${memberRoleName}"`);
  const organization: OrganizationSettings = {
    mode: organizationMode,
    memberAccounts,
    ...(organizationId !== undefined ? { organizationId } : {}),
    memberRoleName,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    mode,
    kmsKeyArns,
    bucketKeyEnabled,
    blockSseC: blockSseC ?? 'preserve',
    dryRun,
    exemptTag,
    exemptBuckets,
    stackName: env.GUARD_STACK_NAME?.trim() || undefined,
    sweep,
    guardrails,
    flap,
    reencrypt,
    organization,
  };
};
