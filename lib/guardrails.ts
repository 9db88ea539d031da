/**
 * Bucket-policy and Block Public Access guardrails, and the policy side of the per-bucket SSE_C mode.
 * Pure: the current policy and Block Public Access configuration in, violations and the exact documents
 * to write out. The guard owns only statements whose Sid starts with `EncryptionGuard`; every other
 * statement is kept exactly as it is, in its place.
 */
import type { Guardrail, GuardrailSetting } from './config';
import type { Violation, ViolationCode } from './evaluate';
import { DSSE_KMS, SSE_KMS } from './encryption';
import { parseKeyArn } from './kms-arn';
import type { EncryptionMode } from './modes';

export const GUARD_SID_PREFIX = 'EncryptionGuard';
/** S3's limit on a bucket policy document. */
export const POLICY_SIZE_LIMIT = 20 * 1024;

export type Statement = { Sid?: string } & Record<string, unknown>;
export interface PolicyDocument {
  Statement: Statement[];
  [field: string]: unknown;
}

export interface PublicAccessBlock {
  BlockPublicAcls?: boolean;
  IgnorePublicAcls?: boolean;
  BlockPublicPolicy?: boolean;
  RestrictPublicBuckets?: boolean;
}
export const ALL_BLOCKED: Required<PublicAccessBlock> = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

export interface GuardrailInput {
  bucket: string;
  region: string;
  /** The partition of the guard's own ARN; absent: told from the region's prefix. */
  partition?: string;
  /** The bucket's required mode. */
  mode: EncryptionMode;
  /**
   * The listed key, when the bucket's rule uses it: the upload statements then deny other keys. A bucket
   * that complies through another key (a stronger DSSE rule, say) gets no key statements.
   */
  keyArn?: string;
  settings: Record<Guardrail, GuardrailSetting>;
  /** The policy text as read; `null`: the bucket has none; `undefined`: not read (nothing asked for it). */
  policy?: string | null;
  /** As read; `null`: none configured; `undefined`: not read. */
  publicAccessBlock?: PublicAccessBlock | null;
}

export interface GuardrailResult {
  violations: Violation[];
  /** The policy to write (`null`: delete the policy), when it must change. */
  policyPlan?: { document: PolicyDocument | null; text: string | null };
  publicAccessBlockPlan?: Required<PublicAccessBlock>;
}

/** A fallback only: the partition comes from the guard's own ARN, which knows every partition. */
const partitionOf = (region: string): string =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/** What one guardrail (or the SSE_C mode) asks of the policy. */
interface StatementGroup {
  code: ViolationCode;
  detail: string;
  /** Every Sid the group may own, so a statement it no longer wants can be removed. */
  sids: readonly string[];
  wanted: Statement[];
  setting: GuardrailSetting;
  /** A statement of someone else's that already does the job. */
  satisfiedBy?: (statement: Statement) => boolean;
}

/** Canonical form for comparison: sorted keys, one-element arrays as their element, sorted scalar lists. */
const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    if (items.length === 1) return items[0];
    return items.every((item) => typeof item !== 'object') ? [...items].sort() : items;
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical((value as Record<string, unknown>)[key])]));
  }
  return typeof value === 'boolean' ? String(value) : value;
};
const same = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

const isEveryone = (principal: unknown): boolean =>
  principal === '*' || (typeof principal === 'object' && principal !== null && same((principal as { AWS?: unknown }).AWS, '*'));

const deniesAllS3When = (statement: Statement, operator: string, key: string, value: string): boolean => {
  const conditions = statement.Condition as Record<string, Record<string, unknown>> | undefined;
  const actions = [statement.Action].flat();
  return statement.Effect === 'Deny' && isEveryone(statement.Principal)
    && (actions.includes('s3:*') || actions.includes('*'))
    && same(conditions?.[operator]?.[key], value);
};

const statementGroups = (input: GuardrailInput): StatementGroup[] => {
  const bucketArn = `arn:${input.partition ?? partitionOf(input.region)}:s3:::${input.bucket}`;
  const objects = `${bucketArn}/*`;
  const everything = [bucketArn, objects];
  const { settings, mode } = input;
  const denyPut = (sid: string, condition: Record<string, Record<string, unknown>>): Statement =>
    ({ Sid: `${GUARD_SID_PREFIX}${sid}`, Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: objects, Condition: condition });

  const weaker: Statement[] = [];
  if (mode !== 'SSE_S3' && mode !== 'SSE_C') {
    // Only requests that ask for something are denied: uploads with no encryption header keep working.
    weaker.push(denyPut('DenyWeakerEncryption', {
      Null: { 's3:x-amz-server-side-encryption': 'false' },
      StringNotEquals: { 's3:x-amz-server-side-encryption': mode === 'DSSE_KMS' ? [DSSE_KMS] : [SSE_KMS, DSSE_KMS] },
    }));
    const key = input.keyArn ? parseKeyArn(input.keyArn) : undefined;
    if ((mode === 'SSE_KMS_CUSTOMER_MANAGED' || mode === 'DSSE_KMS') && key) {
      weaker.push(denyPut('DenyOtherKmsKeys', {
        Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
        StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': [key.arn, key.keyId] },
      }));
      // A KMS header without a key id makes S3 use the aws/s3 key, not the bucket's.
      weaker.push(denyPut('DenyAwsManagedKey', {
        Null: { 's3:x-amz-server-side-encryption': 'false', 's3:x-amz-server-side-encryption-aws-kms-key-id': 'true' },
      }));
    }
  }

  return [
    {
      code: 'TLS_NOT_REQUIRED', detail: 'requests over plain HTTP are not denied', setting: settings.REQUIRE_TLS,
      sids: [`${GUARD_SID_PREFIX}RequireTls`],
      wanted: [{ Sid: `${GUARD_SID_PREFIX}RequireTls`, Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: everything, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }],
      satisfiedBy: (s) => deniesAllS3When(s, 'Bool', 'aws:SecureTransport', 'false'),
    },
    {
      code: 'SIGV4_NOT_REQUIRED', detail: 'requests signed with Signature Version 2 are not denied', setting: settings.REQUIRE_SIGV4,
      sids: [`${GUARD_SID_PREFIX}RequireSigV4`],
      // Denies SigV2 only: anonymous requests carry no signature version and are left to Block Public Access.
      wanted: [{ Sid: `${GUARD_SID_PREFIX}RequireSigV4`, Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: everything, Condition: { StringEquals: { 's3:signatureversion': 'AWS' } } }],
      satisfiedBy: (s) => deniesAllS3When(s, 'StringEquals', 's3:signatureversion', 'AWS'),
    },
    {
      code: 'WEAKER_UPLOADS_ALLOWED', detail: `uploads may ask for weaker encryption than ${mode} or another key`, setting: settings.DENY_WEAKER_UPLOADS,
      sids: ['DenyWeakerEncryption', 'DenyOtherKmsKeys', 'DenyAwsManagedKey'].map((sid) => `${GUARD_SID_PREFIX}${sid}`),
      wanted: weaker,
    },
    {
      code: 'SSE_C_NOT_REQUIRED', detail: 'uploads without SSE-C are not denied, as mode SSE_C requires', setting: mode === 'SSE_C' ? 'enforce' : 'off',
      sids: [`${GUARD_SID_PREFIX}RequireSseC`],
      wanted: mode === 'SSE_C' ? [denyPut('RequireSseC', {
        Null: { 's3:x-amz-server-side-encryption-customer-algorithm': 'true' },
        // AWS services that deliver logs or replicas cannot use SSE-C.
        Bool: { 'aws:PrincipalIsAWSService': 'false' },
      })] : [],
    },
  ];
};

const parsePolicy = (text: string): PolicyDocument | undefined => {
  try {
    const parsed = JSON.parse(text) as { Statement?: unknown };
    if (!parsed || typeof parsed !== 'object') return undefined;
    const statements = parsed.Statement === undefined ? [] : [parsed.Statement].flat();
    if (!statements.every((s) => s && typeof s === 'object' && !Array.isArray(s))) return undefined;
    return { ...(parsed as Record<string, unknown>), Statement: statements as Statement[] };
  } catch {
    return undefined;
  }
};

const isGuards = (statement: Statement): boolean => typeof statement.Sid === 'string' && statement.Sid.startsWith(GUARD_SID_PREFIX);

export const evaluateGuardrails = (input: GuardrailInput): GuardrailResult => {
  const violations: Violation[] = [];
  const result: GuardrailResult = { violations };
  const flag = (setting: GuardrailSetting, code: ViolationCode, detail: string): void => {
    violations.push({ code, severity: setting === 'enforce' ? 'violation' : 'warning', detail: setting === 'report' ? `${detail} (report only)` : detail });
  };

  const pabSetting = input.settings.PUBLIC_ACCESS_BLOCK;
  if (pabSetting !== 'off' && input.publicAccessBlock !== undefined) {
    const current = input.publicAccessBlock ?? {};
    const open = (Object.keys(ALL_BLOCKED) as (keyof PublicAccessBlock)[]).filter((flagName) => current[flagName] !== true);
    if (open.length > 0) {
      flag(pabSetting, 'PUBLIC_ACCESS_NOT_BLOCKED', `Block Public Access is off for ${open.join(', ')}`);
      if (pabSetting === 'enforce') result.publicAccessBlockPlan = { ...ALL_BLOCKED };
    }
  }

  if (input.policy === undefined) return result;
  const current = input.policy === null ? { Version: '2012-10-17', Statement: [] } : parsePolicy(input.policy);
  if (!current) {
    violations.push({ code: 'POLICY_UNREADABLE', severity: 'violation', detail: 'the bucket policy is not a policy document the guard can merge into; left unchanged' });
    return result;
  }

  // What each Sid the guard owns should become: a statement, removed, or left as it is (report).
  const target = new Map<string, Statement | 'absent'>();
  for (const group of statementGroups(input)) {
    if (group.setting === 'off') {
      for (const sid of group.sids) target.set(sid, 'absent');
      continue;
    }
    const bySid = new Map(current.Statement.filter(isGuards).map((s) => [s.Sid, s]));
    const foreign = current.Statement.filter((s) => !isGuards(s));
    const met = group.wanted.every((wanted) => same(bySid.get(wanted.Sid), wanted))
      && group.sids.every((sid) => group.wanted.some((w) => w.Sid === sid) || !bySid.has(sid));
    const metByOthers = group.satisfiedBy !== undefined && foreign.some(group.satisfiedBy);
    if (!met && !metByOthers) flag(group.setting, group.code, group.detail);
    if (group.setting === 'enforce' && !metByOthers) {
      for (const sid of group.sids) target.set(sid, group.wanted.find((w) => w.Sid === sid) ?? 'absent');
    } else if (group.setting === 'report') {
      // Nothing is added, but statements the guard wrote earlier are kept current: one pinned to an old
      // key or mode would deny uploads the bucket now needs.
      for (const sid of group.sids) if (bySid.has(sid)) target.set(sid, group.wanted.find((w) => w.Sid === sid) ?? 'absent');
    }
  }

  const merged: Statement[] = [];
  for (const statement of current.Statement) {
    const wanted = statement.Sid !== undefined ? target.get(statement.Sid) : undefined;
    if (wanted === undefined) merged.push(statement); // someone else's, or a guard statement left as it is
    else if (wanted !== 'absent') merged.push(wanted); // updated in place
  }
  for (const [sid, wanted] of target) {
    if (wanted !== 'absent' && !current.Statement.some((s) => s.Sid === sid)) merged.push(wanted);
  }
  if (same(merged, current.Statement)) return result;

  if (merged.length === 0) {
    result.policyPlan = { document: null, text: null };
    return result;
  }
  const document: PolicyDocument = { ...current, Version: current.Version ?? '2012-10-17', Statement: merged };
  const text = JSON.stringify(document);
  if (Buffer.byteLength(text) > POLICY_SIZE_LIMIT) {
    violations.push({ code: 'POLICY_TOO_LARGE', severity: 'violation', detail: `the merged policy would be ${Buffer.byteLength(text)} bytes, over S3's ${POLICY_SIZE_LIMIT}; not written` });
    return result;
  }
  result.policyPlan = { document, text };
  return result;
};
