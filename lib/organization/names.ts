/**
 * Names the hub, the spoke template and the tests share: one place, so the rule that leaves out the
 * guard's own calls and the roles the guard runs as can never drift apart.
 */
import type { ViolationCode } from '../evaluate';

/**
 * Every role the guard acts as (its function roles, and the member role in each account) lives at this
 * IAM path. A rule can then leave out the calls of every guard stack of the account, in any region, with
 * one prefix of the session issuer's ARN: a guard writing in another region is not re-evaluated, and two
 * stacks cannot fight. Anyone allowed to create roles at this path could hide calls from the event path
 * (the sweep still sees their result): the README says to keep `iam:CreateRole` on it to the deployer.
 */
export const GUARD_ROLE_PATH = '/s3-encryption-guard/';

/** The ARN prefix of every guard role of one account, as CloudTrail's sessionIssuer.arn shows it. */
export const guardRoleArnPrefix = (partition: string, accountId: string): string => `arn:${partition}:iam::${accountId}:role${GUARD_ROLE_PATH}`;

/** The member role the hub assumes in an account. */
export const memberRoleArn = (partition: string, accountId: string, roleName: string): string =>
  `${guardRoleArnPrefix(partition, accountId)}${roleName}`;

/** The hub's central event bus, to which every spoke forwards its account's bucket events. */
export const hubBusName = (service: string, stage: string): string => `${service}-${stage}-hub`;

/** Violation code of a bucket or an account the hub could not reach: its member role could not be assumed. */
export const MEMBER_ROLE_UNAVAILABLE = 'MEMBER_ROLE_UNAVAILABLE' satisfies ViolationCode;
