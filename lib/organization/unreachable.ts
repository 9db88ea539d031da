/**
 * The finding for a bucket or an account the hub cannot reach: its member role could not be assumed, so
 * nothing there was read. An ERROR (it counts in RemediationsFailed and MemberAccountsUnreachable, and
 * alarms), never a silent gap. An account-wide finding (the sweep could not even list the buckets) names
 * the bucket `*`.
 */
import type { Finding, Trigger } from '../finding';
import type { MemberRoleUnavailableError } from './member-credentials';
import { MEMBER_ROLE_UNAVAILABLE } from './names';

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
