/**
 * Bucket-policy and Block Public Access guardrails, and the policy side of the per-bucket SSE_C mode.
 * Pure: the current policy and Block Public Access configuration in, violations and the exact documents
 * to write out. The guard owns only statements whose Sid starts with `EncryptionGuard`; every other
 * statement is kept exactly as it is, in its place. Each statement denies only what it must: README,
 * "What each statement denies", lists the requests it leaves working, and tests/unit/request-matrix.test.ts
 * evaluates them against a table of requests.
 */
import type { Guardrail, GuardrailSetting } from './config';
import type { Violation, ViolationCode } from './evaluate';
import { DSSE_KMS, SSE_KMS } from './encryption';
import { parseKeyArn } from './kms-arn';
import { type EncryptionMode, SSE_C_DENY_TAG } from './modes';
import { coverage, type DenyCondition } from './policy/coverage';
import { bucketArnOf, type ConditionBlock, parsePolicy, type PolicyDocument, same, type Statement } from './policy/document';
import { publicStatements, statementName } from './policy/public-status';

export type { PolicyDocument, Statement } from './policy/document';

export const GUARD_SID_PREFIX = 'EncryptionGuard';
/** S3's limit on a bucket policy document. */
export const POLICY_SIZE_LIMIT = 20 * 1024;

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
  /** The listed key's aliases (names and ARNs), which uploads may name instead of the key; `unknown`: not listable. */
  keyAliases?: readonly string[] | 'unknown';
  settings: Record<Guardrail, GuardrailSetting>;
  /** The policy text as read; `null`: the bucket has none; `undefined`: not read (nothing asked for it). */
  policy?: string | null;
  /** As read; `null`: none configured; `undefined`: not read. */
  publicAccessBlock?: PublicAccessBlock | null;
  /** The bucket has a static website configuration; `unknown`: it could not be read. Absent: none. */
  website?: boolean | 'unknown';
  /** Tag `encryption-guard:sse-c-deny=true` (mode SSE_C only). */
  sseCDeny?: boolean;
  /** BLOCK_SSE_C=allow: SSE-C uploads are wanted, so the key-mode statements do not deny them. */
  sseCAllowed?: boolean;
}

export interface GuardrailResult {
  violations: Violation[];
  /** The policy to write (`null`: delete the policy), when it must change. */
  policyPlan?: { document: PolicyDocument | null; text: string | null };
  publicAccessBlockPlan?: Required<PublicAccessBlock>;
}

/** What one guardrail (or the SSE_C mode) asks of the policy. */
interface StatementGroup {
  code: ViolationCode;
  detail: string;
  /** Every Sid the group may own, so a statement it no longer wants can be removed. */
  sids: readonly string[];
  wanted: Statement[];
  setting: GuardrailSetting;
  /** The condition of a "deny everything when ..." statement: someone else's equivalent one does the job. */
  denies?: DenyCondition;
  /** Said instead of the group's own finding whenever the guardrail is on (a website bucket's TLS). */
  notice?: Violation;
  /** Its inputs are unknown (a read was denied): the group is neither checked nor changed. */
  hold?: boolean;
}

const sid = (name: string): string => `${GUARD_SID_PREFIX}${name}`;
const SSE = 's3:x-amz-server-side-encryption';
const SSE_KEY = 's3:x-amz-server-side-encryption-aws-kms-key-id';
const SSE_C = 's3:x-amz-server-side-encryption-customer-algorithm';
/** AWS services delivering as their service principal (logs, replicas) are configured in that service, not by headers. */
// IfExists: the key is present only in signed requests; an anonymous upload must be denied too.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-principalisawsservice
const EXCEPT_AWS_SERVICES: ConditionBlock = { BoolIfExists: { 'aws:PrincipalIsAWSService': 'false' } };
const SECURE_TRANSPORT: DenyCondition = { operator: 'Bool', key: 'aws:SecureTransport', value: 'false', ignoreCase: true };
const SIGV2: DenyCondition = { operator: 'StringEquals', key: 's3:signatureversion', value: 'AWS', ignoreCase: false };

const WEBSITE_DETAIL = 'the bucket hosts a static website: S3 website endpoints answer over HTTP only, so denying aws:SecureTransport=false would '
  + 'turn every visitor (and any CloudFront origin pointed at the website endpoint) away with 403; TLS is not enforced on it. To require TLS, '
  + 'serve the site through CloudFront with HTTPS to the bucket\'s REST endpoint and origin access control (OAC), then remove the website configuration';

const statementGroups = (input: GuardrailInput, current: PolicyDocument): StatementGroup[] => {
  const bucketArn = bucketArnOf(input.bucket, input.region, input.partition);
  const objects = `${bucketArn}/*`;
  const everything = [bucketArn, objects];
  const { settings, mode } = input;
  const denyPut = (name: string, condition: ConditionBlock): Statement =>
    ({ Sid: sid(name), Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: objects, Condition: condition });
  const denyAll = (name: string, condition: DenyCondition): Statement =>
    ({ Sid: sid(name), Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: everything, Condition: { [condition.operator]: { [condition.key]: condition.value } } });

  const keyMode = mode === 'SSE_KMS_CUSTOMER_MANAGED' || mode === 'DSSE_KMS';
  const weaker: Statement[] = [];
  if (mode !== 'SSE_S3' && mode !== 'SSE_C') {
    // Only requests that ask for something are denied: uploads with no encryption header keep working.
    weaker.push(denyPut('DenyWeakerEncryption', {
      Null: { [SSE]: 'false' },
      StringNotEquals: { [SSE]: mode === 'DSSE_KMS' ? [DSSE_KMS] : [SSE_KMS, DSSE_KMS] },
      ...EXCEPT_AWS_SERVICES,
    }));
    const key = input.keyArn ? parseKeyArn(input.keyArn) : undefined;
    if (keyMode && key) {
      // S3 takes the key as ARN, id, alias name or alias ARN (x-amz-server-side-encryption-aws-kms-key-id).
      const aliases = Array.isArray(input.keyAliases) ? [...input.keyAliases].sort() : [];
      weaker.push(denyPut('DenyOtherKmsKeys', { Null: { [SSE_KEY]: 'false' }, StringNotEquals: { [SSE_KEY]: [key.arn, key.keyId, ...aliases] }, ...EXCEPT_AWS_SERVICES }));
      // A bare alias name resolves in the requester's account: from another account, `alias/<same name>`
      // would be that account's own key. Alias names are left to the key's own account.
      if (aliases.some((alias) => alias.startsWith('alias/'))) {
        weaker.push(denyPut('DenyAliasNamesFromOtherAccounts', {
          StringLike: { [SSE_KEY]: 'alias/*' }, StringNotEqualsIfExists: { 'aws:PrincipalAccount': key.accountId }, ...EXCEPT_AWS_SERVICES,
        }));
      }
      // A KMS header without a key id makes S3 use the aws/s3 key, not the bucket's.
      weaker.push(denyPut('DenyAwsManagedKey', { Null: { [SSE]: 'false', [SSE_KEY]: 'true' }, ...EXCEPT_AWS_SERVICES }));
    }
    // An SSE-C upload carries no x-amz-server-side-encryption header: it would bypass the key rule.
    if (keyMode && !input.sseCAllowed) weaker.push(denyPut('DenySseC', { Null: { [SSE_C]: 'false' }, ...EXCEPT_AWS_SERVICES }));
  }

  const tlsSid = sid('RequireTls');
  const website = input.website === true;
  return [
    {
      code: 'TLS_NOT_REQUIRED', detail: 'requests over plain HTTP are not denied', setting: settings.REQUIRE_TLS,
      sids: [tlsSid],
      wanted: website ? [] : [denyAll('RequireTls', SECURE_TRANSPORT)],
      ...(website ? {} : { denies: SECURE_TRANSPORT }),
      ...(website ? {
        notice: {
          code: 'TLS_NOT_ENFORCEABLE_WEBSITE', severity: 'warning',
          detail: `${WEBSITE_DETAIL}${current.Statement.some((s) => s.Sid === tlsSid) ? '; the guard\'s own TLS statement is removed' : ''}`,
        },
      } : {}),
      hold: input.website === 'unknown',
    },
    {
      code: 'SIGV4_NOT_REQUIRED', detail: 'requests signed with Signature Version 2 are not denied', setting: settings.REQUIRE_SIGV4,
      sids: [sid('RequireSigV4')],
      // Denies SigV2 only: anonymous requests carry no signature version and are left to Block Public Access.
      wanted: [denyAll('RequireSigV4', SIGV2)],
      denies: SIGV2,
    },
    {
      code: 'WEAKER_UPLOADS_ALLOWED', detail: `uploads may ask for weaker encryption than ${mode}${keyMode ? ', another key, or SSE-C' : ''}`, setting: settings.DENY_WEAKER_UPLOADS,
      sids: ['DenyWeakerEncryption', 'DenyOtherKmsKeys', 'DenyAliasNamesFromOtherAccounts', 'DenyAwsManagedKey', 'DenySseC'].map(sid),
      wanted: weaker,
      hold: input.keyAliases === 'unknown' && weaker.some((s) => s.Sid === sid('DenyOtherKmsKeys')),
    },
    {
      code: 'SSE_C_NOT_REQUIRED',
      detail: `uploads without SSE-C are not denied, as tag ${SSE_C_DENY_TAG}=true asks; every writer must then send the SSE-C headers on `
        + 'PutObject, CreateMultipartUpload, UploadPart and CompleteMultipartUpload too (S3 authorises Complete as s3:PutObject)',
      setting: mode === 'SSE_C' && input.sseCDeny ? 'enforce' : 'off',
      sids: [sid('RequireSseC')],
      wanted: [denyPut('RequireSseC', { Null: { [SSE_C]: 'true' }, ...EXCEPT_AWS_SERVICES })],
    },
  ];
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
  const bySid = new Map(current.Statement.filter(isGuards).map((s) => [s.Sid, s]));
  const foreign = current.Statement.filter((s) => !isGuards(s));
  const bucketArn = bucketArnOf(input.bucket, input.region, input.partition);
  for (const group of statementGroups(input, current)) {
    if (group.setting === 'off') {
      for (const sid of group.sids) target.set(sid, 'absent');
      continue;
    }
    if (group.hold) continue;
    if (group.notice) violations.push(group.notice);
    const met = group.wanted.every((wanted) => same(bySid.get(wanted.Sid), wanted))
      && group.sids.every((sid) => group.wanted.some((w) => w.Sid === sid) || !bySid.has(sid));
    const related = group.denies ? foreign.map((s) => ({ statement: s, coverage: coverage(s, bucketArn, group.denies!) })) : [];
    const metByOthers = related.some((r) => r.coverage.kind === 'equivalent');
    if (!met && !metByOthers && !group.notice) {
      // A narrower statement of someone else's is said for what it is; the guard's own goes beside it.
      const narrower = related.flatMap((r) => (r.coverage.kind === 'narrower'
        ? [`statement ${statementName(current, r.statement)} is narrower (${r.coverage.reasons.join('; ')}) and is kept as it is`] : []));
      flag(group.setting, group.code, [group.detail, ...narrower].join('; '));
    }
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
  // BlockPublicPolicy makes S3 reject any public policy, whoever's statement makes it public.
  const exposing = publicStatements(document);
  const blockedBy = input.publicAccessBlock?.BlockPublicPolicy === true ? 'is on' : result.publicAccessBlockPlan ? 'is being turned on by the guard' : undefined;
  if (exposing.length > 0 && blockedBy) {
    violations.push({
      code: 'POLICY_PUBLIC_BLOCKED', severity: 'violation',
      detail: `the bucket policy grants public access (statement ${exposing.map((s) => statementName(document, s)).join(', ')}), and S3 rejects a public policy `
        + `while BlockPublicPolicy ${blockedBy}: the guard's statements were not written. Narrow those statements to fixed principals or conditions, or remove them`,
    });
    return result;
  }
  result.policyPlan = { document, text };
  return result;
};
