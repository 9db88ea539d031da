/**
 * A small IAM evaluator for bucket-policy Deny statements, enough to say which requests the guard's
 * statements deny. It implements the policy evaluation rules the statements rely on
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
 * every element must match (Principal, Action, Resource, every condition operator, every key in it);
 * a key with several values matches if any value does, negated operators if none does; a key absent from
 * the request fails positive operators and passes negated ones, `…IfExists` passes, `Null` tests presence;
 * `ForAnyValue:`/`ForAllValues:` compare multi-valued keys; condition keys ignore case; an explicit Deny wins.
 */
import { isObject } from '../../lib/json';
import { asStrings, globMatch, type Statement } from '../../lib/policy/document';

export interface Principal {
  /** `anonymous`: an unsigned request. */
  type: 'AWS' | 'Service' | 'anonymous';
  /** An IAM ARN, or a service principal such as `logging.s3.amazonaws.com`. */
  id: string;
}

export interface Request {
  principal: Principal;
  action: string;
  resource: string;
  /** The request context: condition key → value(s); a key left out is absent from the request. */
  context: Record<string, string | string[]>;
}

const accountOf = (arn: string): string | undefined => /^arn:[a-z-]+:(?:iam|sts)::(\d{12}):/.exec(arn)?.[1];

const principalMatches = (element: unknown, principal: Principal): boolean => {
  if (element === '*') return true;
  if (!isObject(element)) return false;
  return Object.entries(element).some(([type, values]) => asStrings(values).some((value) => {
    if (type === 'AWS' && value === '*') return true; // every principal, anonymous included
    if (type !== principal.type) return false;
    if (type === 'Service') return value === principal.id;
    return value === principal.id || (/^\d{12}$/.test(value) ? value : /^arn:[a-z-]+:iam::(\d{12}):root$/.exec(value)?.[1]) === accountOf(principal.id);
  }));
};

type Compare = (policyValue: string, requestValue: string) => boolean;
const COMPARE: Record<string, Compare> = {
  StringEquals: (p, r) => p === r,
  StringEqualsIgnoreCase: (p, r) => p.toLowerCase() === r.toLowerCase(),
  StringLike: (p, r) => globMatch(p, r),
  ArnEquals: (p, r) => p === r,
  ArnLike: (p, r) => globMatch(p, r),
  Bool: (p, r) => p.toLowerCase() === r.toLowerCase(),
};
const NEGATED: Record<string, string> = {
  StringNotEquals: 'StringEquals', StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase', StringNotLike: 'StringLike', ArnNotEquals: 'ArnEquals', ArnNotLike: 'ArnLike',
};

/** One operator's test of one key. */
const conditionHolds = (rawOperator: string, key: string, policyValues: string[], context: Request['context']): boolean => {
  const found = Object.keys(context).find((candidate) => candidate.toLowerCase() === key.toLowerCase());
  const requestValues = found === undefined ? undefined : asStrings(context[found]);
  const [, setOperator, operatorWithIfExists] = /^(?:(ForAnyValue|ForAllValues):)?(.+)$/.exec(rawOperator)!;
  const ifExists = operatorWithIfExists.endsWith('IfExists');
  const operator = operatorWithIfExists.replace(/IfExists$/, '');
  if (operator === 'Null') return policyValues.some((value) => (value.toLowerCase() === 'true') === (requestValues === undefined));
  const negatedOf = NEGATED[operator];
  const compare = COMPARE[negatedOf ?? operator];
  if (!compare) throw new Error(`the test evaluator does not implement ${rawOperator}`);
  const matchesOne = (requestValue: string): boolean => policyValues.some((policyValue) => compare(policyValue, requestValue));
  if (requestValues === undefined) return ifExists || setOperator === 'ForAllValues' || (negatedOf !== undefined && setOperator === undefined);
  if (setOperator === 'ForAllValues') return requestValues.every((value) => (negatedOf ? !matchesOne(value) : matchesOne(value)));
  if (setOperator === 'ForAnyValue') return requestValues.some((value) => (negatedOf ? !matchesOne(value) : matchesOne(value)));
  return negatedOf ? !requestValues.some(matchesOne) : requestValues.some(matchesOne);
};

/** Whether every element of the statement matches the request. */
export const statementApplies = (statement: Statement, request: Request): boolean => {
  const principal = statement.NotPrincipal !== undefined ? !principalMatches(statement.NotPrincipal, request.principal) : principalMatches(statement.Principal, request.principal);
  const action = statement.NotAction !== undefined
    ? !asStrings(statement.NotAction).some((pattern) => globMatch(pattern, request.action, true))
    : asStrings(statement.Action).some((pattern) => globMatch(pattern, request.action, true));
  const resource = statement.NotResource !== undefined
    ? !asStrings(statement.NotResource).some((pattern) => globMatch(pattern, request.resource))
    : asStrings(statement.Resource).some((pattern) => globMatch(pattern, request.resource));
  const conditions = isObject(statement.Condition) ? Object.entries(statement.Condition) : [];
  return principal && action && resource && conditions.every(([operator, keys]) =>
    isObject(keys) && Object.entries(keys).every(([key, values]) => conditionHolds(operator, key, asStrings(values), request.context)));
};

/** Deny wins: the request is denied if any Deny statement applies to it. */
export const denied = (statements: readonly Statement[], request: Request): boolean =>
  statements.some((statement) => statement.Effect === 'Deny' && statementApplies(statement, request));
