/**
 * What counts as compliant: the bucket's state and its requirement in, a verdict and the rule to write
 * out. Pure — every fact it needs (key metadata, policy grantees) is read beforehand by the adapters.
 */
import type { GuardConfig } from './config';
import { blocksSseC, type BucketEncryption, DSSE_KMS, type EncryptionRule, isKmsAlgorithm, SSE_KMS, SSE_S3 } from './encryption';
import { type KeyFacts, keyProblems } from './key-checks';
import { keyRefLocation, parseKeyArn } from './kms-arn';
import { type AccountMode, LISTED_KEY_MODES, STRENGTH } from './modes';
import type { Requirement } from './requirement';

export type Verdict = 'COMPLIANT' | 'NONCOMPLIANT' | 'EXEMPT' | 'ERROR';

export type ViolationCode =
  | 'NO_DEFAULT_ENCRYPTION' | 'ENCRYPTION_TOO_WEAK' | 'WRONG_KMS_KEY' | 'FOREIGN_OR_UNUSABLE_KEY'
  | 'UNKNOWN_ALGORITHM' | 'INVALID_MODE_TAG' | 'NO_KEY_FOR_REGION'
  | 'CONFIGURED_KEY_UNUSABLE' | 'SSE_C_NOT_BLOCKED' | 'SSE_C_BLOCKED'
  | 'KEY_ROTATION_DISABLED' | 'BUCKET_KEY_DISABLED' | 'KMS_MAY_BREAK_WRITERS'
  | 'ACCESS_DENIED' | 'READ_FAILED' | 'WRITE_FAILED' | 'VERIFY_PENDING'
  | 'KMS_WOULD_BREAK_WRITERS' | 'KMS_WOULD_BREAK_READERS'
  | 'PUBLIC_ACCESS_NOT_BLOCKED' | 'TLS_NOT_REQUIRED' | 'SIGV4_NOT_REQUIRED' | 'WEAKER_UPLOADS_ALLOWED' | 'SSE_C_NOT_REQUIRED'
  | 'TLS_NOT_ENFORCEABLE_WEBSITE' | 'POLICY_PUBLIC_BLOCKED' | 'OWNED_BY_ORGANIZATION'
  | 'POLICY_UNREADABLE' | 'POLICY_TOO_LARGE' | 'PUBLIC_ACCESS_BLOCK_UNREADABLE' | 'WEBSITE_UNREADABLE' | 'KEY_ALIASES_UNREADABLE'
  | 'FLAPPING' | 'LEDGER_UNAVAILABLE'
  // The hub could not assume the account's member role (lib/organization/): nothing there was read.
  | 'MEMBER_ROLE_UNAVAILABLE';

export interface Violation {
  code: ViolationCode;
  severity: 'violation' | 'warning';
  detail: string;
}

export interface Evaluation {
  verdict: Verdict;
  violations: Violation[];
  /** The full rule to write, when the bucket must change. */
  plan?: EncryptionRule;
}

export type EvaluationConfig = Pick<GuardConfig, 'kmsKeyArns' | 'bucketKeyEnabled' | 'blockSseC'>;

export interface EvaluationInput {
  region: string;
  accountId: string;
  requirement: Requirement;
  encryption: BucketEncryption;
  /** Facts for every reference `keysToDescribe` named. */
  keys: ReadonlyMap<string, KeyFacts>;
  /** Service principals and other accounts the bucket policy allows; undefined when not read. */
  policyGrantees?: readonly string[];
  config: EvaluationConfig;
}

export const violation = (code: ViolationCode, detail: string): Violation => ({ code, severity: 'violation', detail });
export const warning = (code: ViolationCode, detail: string): Violation => ({ code, severity: 'warning', detail });

/** The listed key of the bucket's region: the one key a customer-managed or DSSE rule may use there. */
export const listedKeyFor = (region: string, kmsKeyArns: readonly string[]): string | undefined =>
  kmsKeyArns.find((arn) => parseKeyArn(arn)?.region === region);

const needsListedKey = (requirement: Requirement): boolean =>
  requirement.kind === 'mode' && requirement.mode !== 'SSE_C' && LISTED_KEY_MODES.has(requirement.mode);

/** Key references whose KMS metadata the evaluation needs (foreign, unlisted keys need none: they fail on sight). */
export const keysToDescribe = (input: Omit<EvaluationInput, 'keys'>): string[] => {
  const refs = new Set<string>();
  const current = input.encryption?.kmsKeyId;
  if (current && isKmsAlgorithm(input.encryption?.algorithm ?? '')) {
    const owner = keyRefLocation(current, input.region, input.accountId).accountId;
    if (owner === input.accountId || input.config.kmsKeyArns.includes(current)) refs.add(current);
  }
  if (needsListedKey(input.requirement)) {
    const target = listedKeyFor(input.region, input.config.kmsKeyArns);
    if (target) refs.add(target);
  }
  return [...refs];
};

type Current =
  | { kind: 'usable'; level: number; listed: boolean; key?: KeyFacts & { found: true } }
  | { kind: 'unknown'; algorithm: string }
  | { kind: 'unusable'; detail: string };

const classify = (input: EvaluationInput): Current => {
  const { encryption, region, accountId, keys, config } = input;
  if (!encryption) return { kind: 'usable', level: 0, listed: false };
  const { algorithm, kmsKeyId } = encryption;
  if (algorithm === SSE_S3) return { kind: 'usable', level: STRENGTH.SSE_S3, listed: false };
  if (!isKmsAlgorithm(algorithm)) return { kind: 'unknown', algorithm };
  const level = algorithm === DSSE_KMS ? STRENGTH.DSSE_KMS : STRENGTH.SSE_KMS_AWS_MANAGED;
  if (!kmsKeyId) return { kind: 'usable', level, listed: false }; // the account's aws/s3 key

  const owner = keyRefLocation(kmsKeyId, region, accountId).accountId;
  if (owner !== accountId && !config.kmsKeyArns.includes(kmsKeyId)) {
    return { kind: 'unusable', detail: `key ${kmsKeyId} belongs to account ${owner}, which is not this account and not listed in KMS_KEY_ARN` };
  }
  const facts = keys.get(kmsKeyId) ?? { found: false, reason: `key ${kmsKeyId} was not checked` };
  const problems = keyProblems(facts, region, false);
  if (!facts.found || problems.length > 0) return { kind: 'unusable', detail: problems.join('; ') };
  const listed = config.kmsKeyArns.includes(facts.arn);
  if (facts.accountId !== accountId && !listed) {
    return { kind: 'unusable', detail: `key ${facts.arn} belongs to account ${facts.accountId}, not this account, and is not listed in KMS_KEY_ARN` };
  }
  const customer = facts.keyManager === 'CUSTOMER';
  return { kind: 'usable', level: algorithm === DSSE_KMS ? level : customer ? STRENGTH.SSE_KMS_CUSTOMER_MANAGED : level, listed, key: facts };
};

const blockedFor = (encryption: BucketEncryption, setting: EvaluationConfig['blockSseC']): EncryptionRule['blockedEncryptionTypes'] => {
  const current = encryption?.blockedEncryptionTypes;
  if (setting === 'block' && !blocksSseC(encryption)) return ['SSE-C'];
  if (setting === 'allow' && blocksSseC(encryption)) return ['NONE'];
  return current;
};

const targetRule = (mode: AccountMode, keyArn: string | undefined, config: EvaluationConfig): EncryptionRule => {
  switch (mode) {
    case 'SSE_S3': return { algorithm: SSE_S3 };
    case 'SSE_KMS_AWS_MANAGED': return { algorithm: SSE_KMS, bucketKeyEnabled: config.bucketKeyEnabled };
    case 'SSE_KMS_CUSTOMER_MANAGED': return { algorithm: SSE_KMS, kmsKeyId: keyArn, bucketKeyEnabled: config.bucketKeyEnabled };
    case 'DSSE_KMS': return { algorithm: DSSE_KMS, kmsKeyId: keyArn }; // S3 Bucket Keys do not support DSSE
  }
};

const warningsFor = (rule: EncryptionRule, key: KeyFacts | undefined, grantees: readonly string[] | undefined): Violation[] => {
  const warnings: Violation[] = [];
  if (!isKmsAlgorithm(rule.algorithm)) return warnings;
  if (rule.algorithm === SSE_KMS && rule.bucketKeyEnabled !== true) {
    warnings.push(warning('BUCKET_KEY_DISABLED', 'S3 Bucket Key is off: every object write and read is a KMS request (cost and KMS quota)'));
  }
  if (key?.found && key.keyManager === 'CUSTOMER' && key.rotationEnabled === false) {
    warnings.push(warning('KEY_ROTATION_DISABLED', `automatic rotation is off for ${key.arn}`));
  }
  if (grantees && grantees.length > 0) {
    warnings.push(warning('KMS_MAY_BREAK_WRITERS', `the bucket policy allows ${grantees.join(', ')}; writers outside this account or AWS services (ALB access logs need SSE-S3) may fail under KMS encryption, and the aws/s3 key cannot be shared`));
  }
  return warnings;
};

export const evaluate = (input: EvaluationInput): Evaluation => {
  const { requirement, encryption, region, config } = input;
  if (requirement.kind === 'exempt') return { verdict: 'EXEMPT', violations: [] };
  if (requirement.kind === 'invalid') return { verdict: 'ERROR', violations: [violation('INVALID_MODE_TAG', requirement.detail)] };
  // SSE_C: writers bring their own keys; the default rule stays at least SSE-S3 for everyone else, and
  // SSE-C must not be blocked (the policy statement that demands SSE-C is in guardrails.ts).
  const sseC = requirement.mode === 'SSE_C';
  const mode: AccountMode = requirement.mode === 'SSE_C' ? 'SSE_S3' : requirement.mode;
  const current = classify(input);
  if (current.kind === 'unknown') {
    return { verdict: 'ERROR', violations: [violation('UNKNOWN_ALGORITHM', `default encryption ${current.algorithm} is not one the guard knows; left unchanged (never downgraded)`)] };
  }
  if (current.kind === 'unusable') {
    return { verdict: 'ERROR', violations: [violation('FOREIGN_OR_UNUSABLE_KEY', `${current.detail}; left unchanged: fix the key or the bucket by hand`)] };
  }

  const required = STRENGTH[mode];
  const violations: Violation[] = [];
  if (current.level === 0) violations.push(violation('NO_DEFAULT_ENCRYPTION', `no explicit default encryption; ${mode} requires one`));
  else if (current.level < required) violations.push(violation('ENCRYPTION_TOO_WEAK', `${encryption?.algorithm}${encryption?.kmsKeyId ? '' : ' (aws/s3 key)'} is weaker than ${mode}`));
  else if (current.level === required && LISTED_KEY_MODES.has(mode) && !current.listed) {
    violations.push(violation('WRONG_KMS_KEY', `key ${encryption?.kmsKeyId ?? 'aws/s3'} is not the key KMS_KEY_ARN lists for ${region}`));
  }

  const blockSetting = sseC ? 'allow' : config.blockSseC;
  const blocked = blockedFor(encryption, blockSetting);
  if (blocked !== encryption?.blockedEncryptionTypes) {
    violations.push(blockSetting === 'block'
      ? violation('SSE_C_NOT_BLOCKED', 'SSE-C uploads are allowed; BLOCK_SSE_C=block')
      : violation('SSE_C_BLOCKED', sseC ? 'SSE-C uploads are blocked, but mode SSE_C requires them' : 'SSE-C uploads are blocked; BLOCK_SSE_C=allow'));
  }

  let plan: EncryptionRule | undefined;
  let key = current.key as KeyFacts | undefined;
  if (violations.some((v) => v.code !== 'SSE_C_NOT_BLOCKED' && v.code !== 'SSE_C_BLOCKED')) {
    let keyArn: string | undefined;
    if (LISTED_KEY_MODES.has(mode)) {
      keyArn = listedKeyFor(region, config.kmsKeyArns);
      if (!keyArn) {
        return { verdict: 'ERROR', violations: [...violations, violation('NO_KEY_FOR_REGION', `KMS_KEY_ARN lists no key in ${region}; nothing written`)] };
      }
      key = input.keys.get(keyArn) ?? { found: false, reason: `key ${keyArn} was not checked` };
      const problems = keyProblems(key, region, true);
      if (problems.length > 0) {
        return { verdict: 'ERROR', violations: [...violations, violation('CONFIGURED_KEY_UNUSABLE', `${problems.join('; ')}; nothing written, writers would break`)] };
      }
    }
    plan = { ...targetRule(mode, keyArn, config), ...(blocked ? { blockedEncryptionTypes: blocked } : {}) };
  } else if (violations.length > 0 && encryption) {
    // Only the SSE-C block differs: rewrite the rule as it is, with the key as a full ARN.
    plan = { ...encryption, ...(current.key ? { kmsKeyId: current.key.arn } : {}), blockedEncryptionTypes: blocked };
  }

  const effective = plan ?? encryption;
  const warnings = effective ? warningsFor(effective, key, input.policyGrantees) : [];
  return { verdict: plan ? 'NONCOMPLIANT' : 'COMPLIANT', violations: [...violations, ...warnings], ...(plan ? { plan } : {}) };
};
