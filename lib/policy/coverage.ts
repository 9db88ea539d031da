/**
 * Whether someone else's statement already does what one of the guard's "deny everything when ..."
 * statements does (REQUIRE_TLS, REQUIRE_SIGV4). Strict: it must cover the bucket and every object in it,
 * every principal and every S3 action, under exactly the guard's condition — no Not* element, no extra
 * condition. Anything narrower (one prefix, one account, another bucket, an extra condition) is reported
 * as what it is, and the guard's own statement goes beside it. Pure.
 */
import { asStrings, conditionsOf, globMatch, isEveryone, type Statement } from './document';

/** The single condition of a guard statement, e.g. `Bool` `aws:SecureTransport` `false`. */
export interface DenyCondition {
  operator: string;
  key: string;
  value: string;
  /** Whether the value compares without regard to case (Bool does; StringEquals does not). */
  ignoreCase: boolean;
}

export type Coverage =
  | { kind: 'equivalent' }
  | { kind: 'narrower'; reasons: string[] }
  /** Not about this condition at all. */
  | { kind: 'unrelated' };

/** Whether a resource pattern matches every object key of the bucket: `<prefix of "arn…:bucket/">*`. */
const coversEveryObject = (pattern: string, bucketArn: string): boolean => {
  if (!pattern.endsWith('*')) return false;
  const head = pattern.slice(0, -1);
  const objects = `${bucketArn}/`;
  for (let length = 0; length <= objects.length; length++) if (globMatch(head, objects.slice(0, length))) return true;
  return false;
};

const coversAllActions = (statement: Statement): boolean =>
  asStrings(statement.Action).some((action) => action === '*' || action.toLowerCase() === 's3:*');

export const coverage = (statement: Statement, bucketArn: string, condition: DenyCondition): Coverage => {
  const conditions = conditionsOf(statement);
  const mentions = Object.values(conditions).some((keys) => Object.keys(keys).some((key) => key.toLowerCase() === condition.key.toLowerCase()));
  if (statement.Effect !== 'Deny' || !mentions) return { kind: 'unrelated' };

  const reasons: string[] = [];
  for (const element of ['NotPrincipal', 'NotAction', 'NotResource']) {
    if (statement[element] !== undefined) reasons.push(`uses ${element}`);
  }
  if (statement.NotPrincipal === undefined && !isEveryone(statement.Principal)) reasons.push(`applies only to ${JSON.stringify(statement.Principal)}`);
  if (statement.NotAction === undefined && !coversAllActions(statement)) reasons.push(`denies only ${asStrings(statement.Action).join(', ')}`);
  if (statement.NotResource === undefined) {
    const resources = asStrings(statement.Resource);
    if (!resources.some((resource) => globMatch(resource, bucketArn))) reasons.push(`does not cover the bucket ${bucketArn}`);
    if (!resources.some((resource) => coversEveryObject(resource, bucketArn))) reasons.push(`covers ${resources.join(', ') || 'no resource'}, not every object of the bucket`);
  }

  const operators = Object.entries(conditions);
  const [operator, keys] = operators.length === 1 ? operators[0] : [undefined, {}];
  const [key, value] = Object.entries(keys).length === 1 ? Object.entries(keys)[0] : [undefined, undefined];
  const values = asStrings(value);
  const exact = operator === condition.operator && key?.toLowerCase() === condition.key.toLowerCase() && values.length === 1
    && (condition.ignoreCase ? values[0].toLowerCase() === condition.value.toLowerCase() : values[0] === condition.value);
  if (!exact) reasons.push(`has the condition ${JSON.stringify(statement.Condition)}, not exactly {"${condition.operator}": {"${condition.key}": "${condition.value}"}}`);
  return reasons.length === 0 ? { kind: 'equivalent' } : { kind: 'narrower', reasons };
};
