/**
 * One bucket, start to end: read its state, decide with `evaluate`, write the plan, verify, and return
 * the finding. Throws only errors worth retrying later (throttling, 5xx, timeouts): the caller's queue
 * retries those; every other outcome is a finding.
 */
import { BucketGoneError, type BucketRef, readBucketState, readEncryption, readPolicy, type S3ForRegion, writeEncryption } from './bucket-state';
import { errorMessage, errorName, isAccessDenied, isNoSuchBucket, isTransient } from './aws-errors';
import type { GuardConfig } from './config';
import type { EncryptionRule } from './encryption';
import { evaluate, keysToDescribe, type Violation } from './evaluate';
import type { Action, Finding, RuleView, Trigger } from './finding';
import type { KeyFacts } from './key-checks';
import type { DescribeKeyFn } from './key-lookup';
import { keyRefLocation } from './kms-arn';
import type { EncryptionMode } from './modes';
import { grantsOutsideAccount } from './policy-grants';
import { resolveRequirement } from './requirement';

export interface GuardDeps {
  config: GuardConfig;
  s3: S3ForRegion;
  describeKey: DescribeKeyFn;
  now?: () => number;
}

export interface EnforceRequest {
  bucket: string;
  /** Best knowledge of the bucket's region; corrected by S3's redirect. */
  region: string;
  accountId: string;
  trigger: Trigger;
}

const KMS_MODES: ReadonlySet<EncryptionMode> = new Set(['SSE_KMS_AWS_MANAGED', 'SSE_KMS_CUSTOMER_MANAGED', 'DSSE_KMS']);

const sameRule = (planned: EncryptionRule, actual: EncryptionRule | undefined): boolean =>
  actual !== undefined
  && actual.algorithm === planned.algorithm
  && (actual.kmsKeyId ?? '') === (planned.kmsKeyId ?? '')
  && (planned.bucketKeyEnabled === undefined || (actual.bucketKeyEnabled ?? false) === planned.bucketKeyEnabled)
  // S3 returns BlockedEncryptionTypes where set; when the field is absent it cannot be compared.
  && (actual.blockedEncryptionTypes === undefined || planned.blockedEncryptionTypes === undefined
    || actual.blockedEncryptionTypes.join() === planned.blockedEncryptionTypes.join());

const failure = (code: Violation['code'], detail: string): Violation => ({ code, severity: 'violation', detail });

export const enforceBucket = async (request: EnforceRequest, deps: GuardDeps): Promise<Finding> => {
  const now = deps.now ?? Date.now;
  const started = now();
  const { config, s3 } = deps;
  const base = { schemaVersion: 1 as const, bucket: request.bucket, account: request.accountId, region: request.region, trigger: request.trigger };
  const done = (fields: Omit<Finding, keyof typeof base | 'durationMs'> & { region?: string }): Finding =>
    ({ ...base, ...fields, durationMs: now() - started });

  const ref: BucketRef = { bucket: request.bucket, region: request.region, owner: request.accountId };
  let state;
  try {
    state = await readBucketState(s3, ref, KMS_MODES.has(config.mode));
  } catch (error) {
    if (error instanceof BucketGoneError) {
      return done({ verdict: 'EXEMPT', action: 'SKIPPED', exemptReason: 'bucket no longer exists', violations: [{ code: 'BUCKET_NOT_FOUND', severity: 'warning', detail: 'the bucket was deleted before the guard handled it' }] });
    }
    if (isTransient(error)) throw error;
    const detail = isAccessDenied(error)
      ? `reading the bucket was denied (${errorName(error)}): the guard's role lacks access, an SCP or bucket policy denies it, or the bucket belongs to another account`
      : `reading the bucket failed: ${errorName(error)}: ${errorMessage(error)}`;
    return done({ verdict: 'ERROR', action: 'FAILED', violations: [failure('ACCESS_DENIED', detail)] });
  }

  const at: BucketRef = { ...ref, region: state.region };
  const requirement = resolveRequirement(request.bucket, state.tags, config);
  const mode = requirement.kind === 'mode' ? { mode: requirement.mode, modeSource: requirement.source } : {};
  const before: RuleView = state.encryption ?? null;
  const regionField = { region: state.region };
  if (requirement.kind === 'exempt') {
    return done({ ...regionField, verdict: 'EXEMPT', action: 'NONE', exemptReason: requirement.reason, violations: [], before });
  }

  const needsPolicy = requirement.kind === 'mode' && KMS_MODES.has(requirement.mode);
  const evaluationBase = { region: state.region, accountId: request.accountId, requirement, encryption: state.encryption, config };
  const refs = keysToDescribe(evaluationBase);
  let keys: Map<string, KeyFacts>;
  let policy: string | undefined;
  try {
    const [facts, readPolicyText] = await Promise.all([
      Promise.all(refs.map((keyRef) => deps.describeKey(keyRef, keyRefLocation(keyRef, state.region, request.accountId).region))),
      needsPolicy && state.policy === undefined && !KMS_MODES.has(config.mode) ? readPolicy(s3, at).catch(() => undefined) : state.policy,
    ]);
    keys = new Map(refs.map((keyRef, index) => [keyRef, facts[index]]));
    policy = readPolicyText;
  } catch (error) {
    if (isTransient(error)) throw error;
    return done({ ...regionField, ...mode, verdict: 'ERROR', action: 'FAILED', before, violations: [failure('FOREIGN_OR_UNUSABLE_KEY', `checking keys failed: ${errorName(error)}`)] });
  }

  const evaluation = evaluate({ ...evaluationBase, keys, ...(needsPolicy ? { policyGrantees: grantsOutsideAccount(policy, request.accountId) } : {}) });
  const { verdict, violations, plan } = evaluation;
  if (!plan) return done({ ...regionField, ...mode, verdict, violations, action: verdict === 'ERROR' ? 'SKIPPED' : 'NONE', before });
  if (config.dryRun) return done({ ...regionField, ...mode, verdict, violations, action: 'WOULD_REMEDIATE', before, plan });

  let action: Action = 'REMEDIATED';
  const extra: Violation[] = [];
  let after: RuleView | undefined;
  try {
    await writeEncryption(s3, at, plan);
    after = (await readEncryption(s3, at)) ?? null;
    if (!sameRule(plan, after ?? undefined)) {
      action = 'FAILED';
      extra.push(failure('VERIFY_MISMATCH', 'the rule read back differs from the rule written: another writer may have changed it'));
    }
  } catch (error) {
    if (isTransient(error)) throw error;
    if (isNoSuchBucket(error)) {
      return done({ ...regionField, ...mode, verdict: 'EXEMPT', action: 'SKIPPED', exemptReason: 'bucket no longer exists', before, violations: [{ code: 'BUCKET_NOT_FOUND', severity: 'warning', detail: 'the bucket was deleted while the guard handled it' }] });
    }
    action = 'FAILED';
    extra.push(failure(isAccessDenied(error) ? 'ACCESS_DENIED' : 'WRITE_FAILED', `PutBucketEncryption failed: ${errorName(error)}: ${errorMessage(error)}`));
  }
  return done({ ...regionField, ...mode, verdict, violations: [...violations, ...extra], action, before, plan, ...(after !== undefined ? { after } : {}) });
};

