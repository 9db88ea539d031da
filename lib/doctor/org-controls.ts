/**
 * Organisation controls that already cover a guardrail, so a user does not enforce twice: resource
 * control policies (RCPs) that deny S3 requests without TLS, signed with SigV2, or asking for weaker
 * encryption, and an Organizations S3 policy that turns on Block Public Access for the account. Pure.
 * https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_rcps.html
 * https://docs.aws.amazon.com/organizations/latest/userguide/orgs_manage_policies_s3_syntax.html
 */
import type { Guardrail, GuardrailSetting } from '../config';
import { isObject } from '../json';
import { type Check, listed, pass, warn } from './check';

export interface OrgPolicy {
  id: string;
  name: string;
  /** The policy document as Organizations returns it. */
  content: string;
}

export type OrgFacts =
  | { inOrganization: false }
  | {
    inOrganization: true;
    rcps: readonly OrgPolicy[] | { error: string };
    /** The account's effective S3 policy (`null`: none). */
    s3Policy: string | null | { error: string };
  };

const list = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((item): item is string => typeof item === 'string');
const lower = (values: unknown): string[] => list(values).map((value) => value.toLowerCase());

/** The condition value of `operator` on `key` (keys are case-insensitive in IAM), as lower-case strings. */
const conditionValues = (statement: Record<string, unknown>, operators: readonly string[], key: string): string[] => {
  const condition = statement.Condition;
  if (!isObject(condition)) return [];
  return operators.flatMap((operator) => {
    const block = condition[operator];
    if (!isObject(block)) return [];
    const entry = Object.entries(block).find(([name]) => name.toLowerCase() === key);
    return entry ? lower(entry[1]) : [];
  });
};

const deniesS3 = (statement: Record<string, unknown>, action: string): boolean =>
  statement.Effect === 'Deny' && list(statement.Action).some((a) => a === '*' || a === 's3:*' || a.toLowerCase() === action.toLowerCase());

/** The policy guardrails one RCP statement already enforces for every bucket it applies to. */
export const guardrailsCoveredBy = (statement: Record<string, unknown>): Guardrail[] => {
  const covered: Guardrail[] = [];
  if (deniesS3(statement, 's3:*') && conditionValues(statement, ['Bool', 'BoolIfExists'], 'aws:securetransport').includes('false')) covered.push('REQUIRE_TLS');
  if (deniesS3(statement, 's3:*') && (conditionValues(statement, ['StringEquals'], 's3:signatureversion').includes('aws')
    || conditionValues(statement, ['StringNotEquals'], 's3:signatureversion').includes('aws4-hmac-sha256'))) covered.push('REQUIRE_SIGV4');
  if (deniesS3(statement, 's3:PutObject') && conditionValues(statement, ['StringNotEquals', 'StringNotEqualsIfExists'], 's3:x-amz-server-side-encryption').length > 0) covered.push('DENY_WEAKER_UPLOADS');
  return covered;
};

const statementsOf = (content: string): Array<Record<string, unknown>> => {
  try {
    const parsed: unknown = JSON.parse(content);
    return isObject(parsed) ? [parsed.Statement].flat().filter(isObject) : [];
  } catch {
    return [];
  }
};

/** Whether the account's effective S3 policy turns all four Block Public Access settings on. */
export const s3PolicyBlocksPublicAccess = (content: string): boolean => {
  try {
    const parsed: unknown = JSON.parse(content);
    const attributes = isObject(parsed) ? parsed.s3_attributes : undefined;
    const block = isObject(attributes) ? attributes.public_access_block_configuration : undefined;
    const assigned = isObject(block) ? block['@@assign'] : block;
    return assigned === 'all';
  } catch {
    return false;
  }
};

export const orgControlsCheck = (facts: OrgFacts | { error: string }, settings: Readonly<Record<Guardrail, GuardrailSetting>>): Check => {
  const id = 'org-controls';
  if ('error' in facts) return warn(id, `the organisation could not be read (${facts.error}): ask its administrators whether an RCP or S3 policy already enforces TLS, SigV4, upload encryption or Block Public Access`);
  if (!facts.inOrganization) return pass(id, 'the account is not in an organisation: no RCP or S3 policy covers a guardrail');

  const covered = new Map<Guardrail, string[]>();
  const cover = (guardrail: Guardrail, by: string): void => { covered.set(guardrail, [...(covered.get(guardrail) ?? []), by]); };
  const unread: string[] = [];
  if ('error' in facts.rcps) unread.push(`resource control policies (${facts.rcps.error})`);
  else for (const policy of facts.rcps) for (const statement of statementsOf(policy.content)) for (const g of guardrailsCoveredBy(statement)) cover(g, `RCP "${policy.name}"`);
  if (facts.s3Policy !== null && typeof facts.s3Policy === 'object') unread.push(`the S3 policy (${facts.s3Policy.error})`);
  else if (typeof facts.s3Policy === 'string' && s3PolicyBlocksPublicAccess(facts.s3Policy)) cover('PUBLIC_ACCESS_BLOCK', 'the organisation\'s S3 policy');

  const twice = [...covered].filter(([guardrail]) => settings[guardrail] === 'enforce');
  const coverage = [...covered].map(([guardrail, by]) => `${guardrail} by ${[...new Set(by)].join(', ')}`);
  const couldNot = unread.length ? `could not read ${unread.join(' and ')}: ask the organisation's administrators what covers the guardrails. ` : '';
  if (twice.length > 0) {
    return warn(id, `${couldNot}enforced twice: ${listed(twice.map(([guardrail, by]) => `${guardrail} (also ${[...new Set(by)].join(', ')})`))}; set the guard's setting to report or off for these`);
  }
  if (unread.length > 0) return warn(id, `${couldNot}${coverage.length ? `Covered: ${coverage.join('; ')}` : ''}`.trim());
  return pass(id, coverage.length ? `covered by the organisation: ${coverage.join('; ')} (the guard's settings for these are not enforce)` : 'no RCP or S3 policy of the organisation covers a guardrail');
};
