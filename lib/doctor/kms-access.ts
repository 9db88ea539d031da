/**
 * Who would break in a KMS mode: the account's roles and users that can write (s3:PutObject) or read
 * (s3:GetObject) the checked buckets but could not use the key — uploads then need kms:GenerateDataKey,
 * reads kms:Decrypt. Pure: IAM's simulation and the key policy in, one check out.
 *
 * The model, and its limits (README, "Doctor"): IAM's policy simulator judges the principal's identity
 * policies and permissions boundary; a customer managed key is usable when its key policy lets IAM grant
 * it (the account root statement) and the simulation allows the action, or when the key policy names the
 * principal. Key policy conditions and grants are not evaluated (a conditioned allow counts as allowing).
 * With aws/s3 the key policy lets every principal of the account use the key through S3, so only an
 * explicit deny breaks a same-account principal; other accounts cannot use aws/s3 at all (the guard
 * withholds such a rewrite and names them: KMS_WOULD_BREAK_WRITERS, KMS_WOULD_BREAK_READERS).
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulatePrincipalPolicy.html
 * https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
 */
import { isObject } from '../json';
import { type Check, fail, listed, pass, warn } from './check';

export type Decision = 'allowed' | 'explicitDeny' | 'implicitDeny';

export const S3_ACTIONS = { write: 's3:PutObject', read: 's3:GetObject' } as const;
export const KMS_ACTIONS = { write: 'kms:GenerateDataKey', read: 'kms:Decrypt' } as const;
export const SIMULATED_ACTIONS = [S3_ACTIONS.write, S3_ACTIONS.read, KMS_ACTIONS.write, KMS_ACTIONS.read];

/** The resource a bucket's objects are simulated as: any object (grants limited to a prefix are not seen). */
export const objectsArn = (bucket: string, partition = 'aws'): string => `arn:${partition}:s3:::${bucket}/*`;

/** One simulated result as IAM returns it: per action, and per resource in ResourceSpecificResults. */
export interface SimulatedResult {
  EvalActionName?: string;
  EvalDecision?: string;
  ResourceSpecificResults?: ReadonlyArray<{ EvalResourceName?: string; EvalResourceDecision?: string }>;
}

const asDecision = (value: string | undefined): Decision =>
  value === 'allowed' || value === 'explicitDeny' ? value : 'implicitDeny';

/** Decision per `action resource`, from the per-resource results (the top-level decision aggregates across resources). */
export const decisionsOf = (results: readonly SimulatedResult[], resources: readonly string[]): Map<string, Decision> => {
  const decisions = new Map<string, Decision>();
  for (const result of results) {
    const action = result.EvalActionName ?? '';
    const perResource = result.ResourceSpecificResults ?? [];
    for (const entry of perResource) decisions.set(`${action} ${entry.EvalResourceName}`, asDecision(entry.EvalResourceDecision));
    // A single resource may come back without per-resource results: the top-level decision is then its own.
    if (perResource.length === 0 && resources.length === 1) decisions.set(`${action} ${resources[0]}`, asDecision(result.EvalDecision));
  }
  return decisions;
};

/** What the key policy says, reduced to what the check needs. */
export interface KeyPolicyView {
  /** The policy lets IAM policies of the account grant use of the key (the "Enable IAM policies" statement). */
  delegatesToIam: boolean;
  /** Principal ARNs the policy itself allows each KMS action. */
  allows: (principalArn: string, action: string) => boolean;
  /** Set when the policy could not be read or parsed: the default key policy is assumed. */
  unknown?: string;
}

const list = (value: unknown): string[] => (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((item): item is string => typeof item === 'string');

const actionMatches = (patterns: readonly string[], action: string): boolean =>
  patterns.some((pattern) => new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`, 'i').test(action));

const principalsOf = (statement: Record<string, unknown>): string[] => {
  const principal = statement.Principal;
  if (principal === '*') return ['*'];
  return isObject(principal) ? list(principal.AWS) : [];
};

export const readKeyPolicy = (text: string | undefined, accountId: string, problem?: string): KeyPolicyView => {
  let statements: Array<Record<string, unknown>> = [];
  try {
    const parsed: unknown = text === undefined ? undefined : JSON.parse(text);
    statements = isObject(parsed) ? [parsed.Statement].flat().filter(isObject) : [];
  } catch {
    statements = [];
  }
  if (statements.length === 0) return { delegatesToIam: true, allows: () => false, unknown: problem ?? 'the key policy could not be parsed' };
  const allowing = statements.filter((statement) => statement.Effect === 'Allow');
  const root = new Set([accountId, `arn:aws:iam::${accountId}:root`]);
  return {
    delegatesToIam: allowing.some((statement) => statement.Condition === undefined && principalsOf(statement).some((p) => root.has(p))
      && actionMatches(list(statement.Action), KMS_ACTIONS.write) && actionMatches(list(statement.Action), KMS_ACTIONS.read)),
    allows: (principalArn, action) => allowing.some((statement) => principalsOf(statement).some((p) => p === principalArn || p === '*')
      && actionMatches(list(statement.Action), action)),
  };
};

/** A role or user with what the simulation said of it. */
export interface PrincipalAccess {
  arn: string;
  decisions: ReadonlyMap<string, Decision>;
}

export interface KmsAccessInput {
  keyArn: string;
  /** aws/s3: its key policy lets every principal of the account in through S3. */
  awsManaged: boolean;
  keyPolicy: KeyPolicyView;
  buckets: readonly string[];
  /** More buckets exist than were checked. */
  moreBuckets: boolean;
  principals: readonly PrincipalAccess[];
  /** More roles and users exist than were checked. */
  morePrincipals: boolean;
  skippedServiceLinked: number;
  /** Whether the mode is in force (FAIL) or only previewed (dry run, `--mode`: WARN). */
  enforced: boolean;
}

interface Broken {
  arn: string;
  missing: string[];
}

/** Which of the principal's needs (write → GenerateDataKey, read → Decrypt) the key would refuse. */
export const missingKeyActions = (principal: PrincipalAccess, input: Pick<KmsAccessInput, 'keyArn' | 'awsManaged' | 'keyPolicy' | 'buckets'>): { uses: boolean; missing: string[] } => {
  const on = (action: string, resource: string): Decision => principal.decisions.get(`${action} ${resource}`) ?? 'implicitDeny';
  const writes = input.buckets.some((bucket) => on(S3_ACTIONS.write, objectsArn(bucket)) === 'allowed');
  const reads = input.buckets.some((bucket) => on(S3_ACTIONS.read, objectsArn(bucket)) === 'allowed');
  const canUse = (action: string): boolean => {
    const simulated = on(action, input.keyArn);
    if (simulated === 'explicitDeny') return false;
    if (input.awsManaged) return true;
    return input.keyPolicy.allows(principal.arn, action) || (input.keyPolicy.delegatesToIam && simulated === 'allowed');
  };
  const missing = [
    ...(writes && !canUse(KMS_ACTIONS.write) ? [`writes but lacks ${KMS_ACTIONS.write}`] : []),
    ...(reads && !canUse(KMS_ACTIONS.read) ? [`reads but lacks ${KMS_ACTIONS.read}`] : []),
  ];
  return { uses: writes || reads, missing };
};

const shortName = (arn: string): string => arn.split(':').pop() ?? arn;

export const kmsAccessCheck = (input: KmsAccessInput): Check => {
  const id = 'kms-access';
  const users = input.principals.map((principal) => ({ arn: principal.arn, ...missingKeyActions(principal, input) })).filter((principal) => principal.uses);
  const broken: Broken[] = users.filter((principal) => principal.missing.length > 0);
  const scope = [
    `${input.principals.length} roles and users${input.morePrincipals ? ' (more exist: raise --max-principals)' : ''}`,
    `${input.buckets.length} bucket${input.buckets.length === 1 ? '' : 's'}${input.moreBuckets ? ' (more exist: name them with --bucket)' : ''}`,
    ...(input.skippedServiceLinked ? [`${input.skippedServiceLinked} service-linked roles skipped`] : []),
    ...(input.keyPolicy.unknown ? [`key policy not read (${input.keyPolicy.unknown}): the default policy assumed`] : []),
  ].join(', ');
  const key = input.awsManaged ? 'aws/s3' : input.keyArn;
  if (broken.length === 0) {
    const crossAccount = input.awsManaged ? '; principals of other accounts cannot use aws/s3 at all: the guard names them per bucket (KMS_WOULD_BREAK_WRITERS, KMS_WOULD_BREAK_READERS)' : '';
    return pass(id, `${users.length} of the principals that write or read the checked buckets can all use ${key} (checked ${scope})${crossAccount}`);
  }
  const names = broken.map((principal) => `${shortName(principal.arn)} (${principal.missing.join(', ')})`);
  const detail = `${broken.length} principal${broken.length === 1 ? '' : 's'} would break with ${key}: ${listed(names)}. `
    + `Grant them ${KMS_ACTIONS.write} and ${KMS_ACTIONS.read} on the key${input.awsManaged ? ' (remove the explicit deny)' : ' (identity policy, with the key policy enabling IAM policies, or in the key policy)'} before enforcing (checked ${scope})`;
  return input.enforced ? fail(id, detail) : warn(id, `${detail}; the mode is not enforced yet (dry run or --mode preview)`);
};

export const kmsAccessNotRun = (reason: string): Check =>
  warn('kms-access', `who would break could not be run (${reason}); it needs iam:ListRoles, iam:ListUsers and iam:SimulatePrincipalPolicy (the local emulator has no SimulatePrincipalPolicy)`);
