/**
 * The finding for a bucket or an account the hub cannot reach: its member role could not be assumed, so
 * nothing there was read. An ERROR (it counts in RemediationsFailed and MemberAccountsUnreachable, and
 * alarms), never a silent gap. An account-wide finding (the sweep could not even list the buckets) names
 * the bucket `*`.
 */
import type { Finding, Trigger } from '../finding';
import type { MemberRoleUnavailableError } from './member-credentials';
import { MEMBER_ROLE_UNAVAILABLE } from './names';
import { errorMessage, errorName, isAccessDenied } from '../aws-errors';

/** The bucket of a finding about a whole account. */
export const WHOLE_ACCOUNT = '*';

export interface UnreachableRequest {
  bucket: string;
  region: string;
  trigger: Trigger;
  error: MemberRoleUnavailableError;
  durationMs: number;
}

export const unreachableFinding = ({ bucket, region, trigger, error, durationMs }: UnreachableRequest): Finding => ({
  schemaVersion: 1,
  bucket,
  account: error.account,
  region,
  trigger,
  verdict: 'ERROR',
  violations: [{
    code: MEMBER_ROLE_UNAVAILABLE,
    severity: 'violation',
    detail: `${error.message}. Deploy the spoke template to this account (README "Organisation"), and check that the member role trusts this hub's function roles.`,
  }],
  action: 'SKIPPED',
  durationMs,
});

/**
 * The finding for an account whose buckets could not be listed for another reason than its role (the
 * role lacks `s3:ListAllMyBuckets`, an SCP denies it): the sweep covered none of its buckets, which must
 * alarm like a role that cannot be assumed.
 */
export const unlistedFinding = ({ account, region, trigger, error, durationMs }: { account: string; region: string; trigger: Trigger; error: unknown; durationMs: number }): Finding => ({
  schemaVersion: 1,
  bucket: WHOLE_ACCOUNT,
  account,
  region,
  trigger,
  verdict: 'ERROR',
  violations: [{
    code: isAccessDenied(error) ? 'ACCESS_DENIED' : 'READ_FAILED',
    severity: 'violation',
    detail: `listing the account's buckets failed: ${errorName(error)}: ${errorMessage(error)}. The member role needs s3:ListAllMyBuckets (the spoke template grants it); check for an SCP that denies it.`,
  }],
  action: 'SKIPPED',
  durationMs,
});
