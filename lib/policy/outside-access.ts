/**
 * Who outside the account a bucket policy lets write or read objects: the parties a KMS default
 * encryption can lock out. Pure.
 *
 * - Elastic Load Balancing access logs support only SSE-S3
 *   (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/enable-access-logging.html); they are
 *   delivered by `logdelivery.elasticloadbalancing.amazonaws.com` or, in older regions, by an ELB account.
 * - Other AWS services writing as their service principal, and other accounts, need the key's policy to
 *   grant them `kms:GenerateDataKey` (writes) or `kms:Decrypt` (reads): possible with a customer managed key,
 *   never with `aws/s3`, whose key policy cannot be changed and admits only this account's principals.
 * - Anonymous requests cannot use KMS at all, and a CloudFront origin access identity cannot read SSE-KMS
 *   objects (origin access control can, with a customer managed key).
 */
import { isObject } from '../json';
import { asStrings, conditionsOf, grantsAction, parsePolicy, type Statement } from './document';

export type OutsiderKind = 'elb-logs' | 'service' | 'account' | 'organization' | 'anyone' | 'cloudfront-oai' | 'federated';

export interface Outsider {
  /** The principal as the policy names it. */
  principal: string;
  kind: OutsiderKind;
  writes: boolean;
  reads: boolean;
}

/** ELB's log-delivery accounts of the regions opened before August 2022 (newer regions use the service principal). */
export const ELB_LOG_ACCOUNTS: Readonly<Record<string, string>> = {
  '127311923021': 'us-east-1', '033677994240': 'us-east-2', '027434742980': 'us-west-1', '797873946194': 'us-west-2',
  '098369216593': 'af-south-1', '754344448648': 'ap-east-1', '589379963580': 'ap-southeast-3', '718504428378': 'ap-south-1',
  '383597477331': 'ap-northeast-3', '600734575887': 'ap-northeast-2', '114774131450': 'ap-southeast-1', '783225319266': 'ap-southeast-2',
  '582318560864': 'ap-northeast-1', '985666609251': 'ca-central-1', '054676820928': 'eu-central-1', '156460612806': 'eu-west-1',
  '652711504416': 'eu-west-2', '635631232127': 'eu-south-1', '009996457667': 'eu-west-3', '897822967062': 'eu-north-1',
  '076674570225': 'me-south-1', '507241528517': 'sa-east-1', '048591011584': 'us-gov-west-1', '190560391635': 'us-gov-east-1',
  '638102146993': 'cn-north-1', '037604701340': 'cn-northwest-1',
};
export const ELB_LOG_DELIVERY = 'logdelivery.elasticloadbalancing.amazonaws.com';

const WRITE_ACTIONS = ['s3:PutObject', 's3:ReplicateObject'];
const READ_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion'];

const accountOf = (aws: string): string | undefined => (/^\d{12}$/.test(aws) ? aws : /^arn:[a-z-]+:(?:iam|sts)::(\d{12}):/.exec(aws)?.[1]);

const classifyAws = (aws: string, accountId: string): OutsiderKind | undefined => {
  if (/^arn:[a-z-]+:iam::cloudfront:user\/CloudFront Origin Access Identity /.test(aws)) return 'cloudfront-oai';
  const account = accountOf(aws);
  if (account === accountId) return undefined;
  return account !== undefined && ELB_LOG_ACCOUNTS[account] ? 'elb-logs' : 'account';
};

/** `Principal: "*"` narrowed by a condition to this account, or to an organisation. */
const everyoneNarrowedTo = (statement: Statement, accountId: string): { kind: OutsiderKind; principal: string } | undefined => {
  const conditions = conditionsOf(statement);
  const valuesOf = (key: string): string[] => Object.entries(conditions)
    .filter(([operator]) => /^(StringEquals|StringLike|ArnEquals|ArnLike)$/.test(operator))
    .flatMap(([, keys]) => Object.entries(keys).filter(([candidate]) => candidate.toLowerCase() === key).flatMap(([, value]) => asStrings(value)));
  const accounts = valuesOf('aws:principalaccount');
  const arns = valuesOf('aws:principalarn');
  if ((accounts.length > 0 && accounts.every((account) => account === accountId))
    || (arns.length > 0 && arns.every((arn) => accountOf(arn) === accountId))) return undefined;
  const orgs = valuesOf('aws:principalorgid');
  return orgs.length > 0 ? { kind: 'organization', principal: orgs.join(', ') } : { kind: 'anyone', principal: '*' };
};

const principalsOf = (statement: Statement, accountId: string): { kind: OutsiderKind; principal: string }[] => {
  const principal = statement.NotPrincipal !== undefined ? '*' : statement.Principal;
  if (principal === '*' || (isObject(principal) && asStrings(principal.AWS).includes('*'))) {
    const narrowed = everyoneNarrowedTo(statement, accountId);
    return narrowed ? [narrowed] : [];
  }
  if (!isObject(principal)) return [];
  return [
    ...asStrings(principal.AWS).flatMap((aws) => {
      const kind = classifyAws(aws, accountId);
      return kind ? [{ kind, principal: aws }] : [];
    }),
    ...asStrings(principal.Service).map((service) => ({ kind: service === ELB_LOG_DELIVERY ? 'elb-logs' as const : 'service' as const, principal: service })),
    ...asStrings(principal.Federated).map((provider) => ({ kind: 'federated' as const, principal: provider })),
    ...asStrings(principal.CanonicalUser).map((user) => ({ kind: 'account' as const, principal: `canonical user ${user}` })),
  ];
};

/** Everyone outside the account that an Allow statement lets write or read objects, each once. */
export const outsideAccess = (policy: string | null | undefined, accountId: string): Outsider[] => {
  const document = policy ? parsePolicy(policy) : undefined;
  const found = new Map<string, Outsider>();
  for (const statement of document?.Statement ?? []) {
    if (statement.Effect !== 'Allow') continue;
    const writes = WRITE_ACTIONS.some((action) => grantsAction(statement, action));
    const reads = READ_ACTIONS.some((action) => grantsAction(statement, action));
    if (!writes && !reads) continue;
    for (const { kind, principal } of principalsOf(statement, accountId)) {
      const known = found.get(principal);
      found.set(principal, { principal, kind, writes: writes || (known?.writes ?? false), reads: reads || (known?.reads ?? false) });
    }
  }
  return [...found.values()];
};
