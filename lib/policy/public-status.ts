/**
 * Whether S3 considers a bucket policy public — the test BlockPublicPolicy applies to every
 * PutBucketPolicy. Pure, following AWS's documented rules ("The meaning of public",
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status):
 * a policy is public unless every Allow statement grants access only to fixed values (no wildcard, no
 * policy variable) of a principal, or of one of the listed condition keys; `aws:SourceIp` ranges broader
 * than /8 (IPv4, outside RFC 1918) or /32 (IPv6) count as public.
 */
import { isObject } from '../json';
import { asStrings, conditionsOf, hasWildcard, type PolicyDocument, type Statement } from './document';

/** Condition keys whose fixed values make a statement non-public (lower case: keys are case-insensitive). */
const RESTRICTING_KEYS = new Set([
  'aws:sourceip', 'aws:sourcearn', 'aws:sourcevpc', 'aws:sourcevpce', 'aws:sourceowner', 'aws:sourceaccount',
  's3:x-amz-server-side-encryption-aws-kms-key-id', 'aws:userid', 's3:dataaccesspointarn', 's3:dataaccesspointaccount',
  // "An AWS principal, user, role, or service principal (e.g. aws:PrincipalOrgID)"
  'aws:principalorgid', 'aws:principalaccount', 'aws:principalarn',
]);
/** Operators that pin a key to the listed values (not their negations, not IfExists: an absent key would pass). */
const PINNING_OPERATORS = new Set(['StringEquals', 'StringEqualsIgnoreCase', 'StringLike', 'ArnEquals', 'ArnLike', 'IpAddress']);

/**
 * A CIDR narrow enough not to be "public": /8 or narrower for IPv4, /32 or narrower for IPv6. (AWS excepts
 * RFC 1918 ranges from the /8 rule; none of them is broader than /8.)
 */
const narrowCidr = (cidr: string): boolean => {
  const [address, prefixText] = cidr.split('/');
  const ipv6 = address.includes(':');
  const prefix = prefixText === undefined ? (ipv6 ? 128 : 32) : Number(prefixText);
  return Number.isInteger(prefix) && prefix >= (ipv6 ? 32 : 8);
};

/** A fixed value for the key; s3:DataAccessPointArn may name any access point of a fixed account. */
const fixedValue = (key: string, value: string): boolean => {
  if (key === 's3:dataaccesspointarn') return /^arn:[a-z-]+:s3:[a-z0-9-]+:\d{12}:accesspoint\/[^$]*$/.test(value);
  if (key === 'aws:userid' && /^AROA[A-Z0-9]+:\*$/.test(value)) return true; // one role, any session
  if (hasWildcard(value)) return false;
  return key === 'aws:sourceip' ? narrowCidr(value) : true;
};

const restrictedByCondition = (statement: Statement): boolean =>
  Object.entries(conditionsOf(statement)).some(([operator, keys]) => PINNING_OPERATORS.has(operator)
    && Object.entries(keys).some(([rawKey, value]) => {
      const key = rawKey.toLowerCase();
      const values = asStrings(value);
      return RESTRICTING_KEYS.has(key) && values.length > 0 && values.every((item) => fixedValue(key, item));
    }));

/** A principal element with only fixed values: accounts, roles, users, service principals, IAM identity providers. */
const fixedPrincipal = (principal: unknown): boolean => {
  if (!isObject(principal)) return false; // "*"
  return Object.entries(principal).every(([type, value]) => asStrings(value).every((item) => !hasWildcard(item)
    // A web identity provider (graph.facebook.com, accounts.google.com) admits anyone who signs in there.
    && (type !== 'Federated' || /^arn:[a-z-]+:iam::\d{12}:(saml|oidc)-provider\//.test(item))));
};

export const isPublicStatement = (statement: Statement): boolean =>
  statement.Effect === 'Allow'
  && (statement.NotPrincipal !== undefined || !fixedPrincipal(statement.Principal))
  && !restrictedByCondition(statement);

/** The statements that make the policy public; empty when S3 would accept it under BlockPublicPolicy. */
export const publicStatements = (document: PolicyDocument): Statement[] => document.Statement.filter(isPublicStatement);

/** How a statement is named in a finding: its Sid, or its place in the policy. */
export const statementName = (document: PolicyDocument, statement: Statement): string =>
  statement.Sid ? `"${statement.Sid}"` : `#${document.Statement.indexOf(statement) + 1}`;
