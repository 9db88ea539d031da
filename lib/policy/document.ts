/**
 * A bucket policy as the guard reads it: parsing, comparison, and the IAM matching rules (wildcards in
 * actions and resources, principals, condition blocks) that the other policy modules share. Pure.
 */
import { isObject } from '../json';

export type Statement = { Sid?: string } & Record<string, unknown>;
export interface PolicyDocument {
  Statement: Statement[];
  [field: string]: unknown;
}
/** A statement's Condition block: operator → condition key → value(s). */
export type ConditionBlock = Record<string, Record<string, unknown>>;

/** The policy text as a document; `undefined` when it is not one the guard can merge into. */
export const parsePolicy = (text: string): PolicyDocument | undefined => {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!isObject(parsed)) return undefined;
    const statements = parsed.Statement === undefined ? [] : [parsed.Statement].flat();
    if (!statements.every(isObject)) return undefined;
    return { ...parsed, Statement: statements as Statement[] };
  } catch {
    return undefined;
  }
};

/** A policy element that may be one value or a list, as a list. */
export const asList = (value: unknown): unknown[] => (value === undefined ? [] : [value].flat());
export const asStrings = (value: unknown): string[] => asList(value).map(String);

/** Canonical form for comparison: sorted keys, one-element arrays as their element, sorted scalar lists. */
const canonical = (value: unknown): unknown => {
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    if (items.length === 1) return items[0];
    return items.every((item) => typeof item !== 'object') ? [...items].sort() : items;
  }
  if (isObject(value)) return Object.fromEntries(Object.keys(value).sort().map((key) => [key, canonical(value[key])]));
  return typeof value === 'boolean' ? String(value) : value;
};
/** Equal as IAM reads them: `["s3:*"]` is `"s3:*"`, `false` is `"false"`, key order does not matter. */
export const same = (a: unknown, b: unknown): boolean => JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));

/**
 * IAM's wildcard match: `*` any run of characters, `?` one. Actions are matched without regard to case,
 * ARNs with it (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
 */
export const globMatch = (pattern: string, value: string, ignoreCase = false): boolean => {
  const source = pattern.split('').map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\/]/g, '\\$&'))).join('');
  return new RegExp(`^${source}$`, ignoreCase ? 'is' : 's').test(value);
};

export const hasWildcard = (value: string): boolean => /[*?]/.test(value) || value.includes('${');

/** Whether a statement's Action (or NotAction) covers an action such as `s3:PutObject`. */
export const grantsAction = (statement: Statement, action: string): boolean => {
  if (statement.NotAction !== undefined) return !asStrings(statement.NotAction).some((pattern) => globMatch(pattern, action, true));
  return asStrings(statement.Action).some((pattern) => globMatch(pattern, action, true));
};

/** `"*"` or `{"AWS": "*"}`: every principal, signed or anonymous. */
export const isEveryone = (principal: unknown): boolean =>
  principal === '*' || (isObject(principal) && asStrings(principal.AWS).includes('*'));

/** The statement's conditions, `{}` when it has none or they are malformed. */
export const conditionsOf = (statement: Statement): ConditionBlock =>
  (isObject(statement.Condition) ? Object.fromEntries(Object.entries(statement.Condition).filter(([, keys]) => isObject(keys))) : {}) as ConditionBlock;

/** The values a condition block gives a key under an operator; condition keys are case-insensitive. */
export const conditionValues = (conditions: ConditionBlock, operator: string, key: string): string[] | undefined => {
  const keys = conditions[operator];
  const found = keys && Object.keys(keys).find((candidate) => candidate.toLowerCase() === key.toLowerCase());
  return found === undefined ? undefined : asStrings(keys[found]);
};

/** A fallback only: the partition comes from the guard's own ARN, which knows every partition. */
const partitionOf = (region: string): string =>
  region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';

/** The bucket's ARN, in the given partition or else that of its region. */
export const bucketArnOf = (bucket: string, region: string, partition?: string): string => `arn:${partition ?? partitionOf(region)}:s3:::${bucket}`;
