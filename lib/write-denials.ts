/**
 * A guardrail write that S3 answered with 403, and who owns the setting it tried to change. S3 adds the
 * kind of policy that denied a request to its access-denied message for callers of the bucket owner's
 * account or organisation ("… with an explicit deny in a service control policy", "… because public
 * policies are prevented by the BlockPublicPolicy setting in S3 Block Public Access"):
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/troubleshoot-403-errors.html. Pure.
 *
 * A setting the organisation owns (an SCP or RCP denies the change) is reported as such, not as the guard's failure: no alarm, no retry. A denial by
 * the guard's own role (identity-based policy, permissions boundary) or by the bucket policy stays a failure.
 * Encryption writes are never excused here: enforcing encryption is the guard's job.
 */
import type { Violation, ViolationCode } from './evaluate';

export type GuardrailWrite = 'PutBucketPolicy' | 'DeleteBucketPolicy' | 'PutPublicAccessBlock';

/** What a refused setting's write would have resolved: reported with the refusal, not counted as a failure. */
export const REFUSED_SETTING_CODES: Readonly<Record<string, readonly ViolationCode[]>> = {
  policy: ['TLS_NOT_REQUIRED', 'SIGV4_NOT_REQUIRED', 'WEAKER_UPLOADS_ALLOWED', 'SSE_C_NOT_REQUIRED', 'POLICY_PUBLIC_BLOCKED'],
  publicAccessBlock: ['PUBLIC_ACCESS_NOT_BLOCKED'],
};

const SETTING_OF: Record<GuardrailWrite, string> = {
  PutBucketPolicy: 'the bucket policy guardrails (requireTls, requireSigV4, denyWeakerUploads)',
  DeleteBucketPolicy: 'the bucket policy guardrails (requireTls, requireSigV4, denyWeakerUploads)',
  PutPublicAccessBlock: 'publicAccessBlock',
};

/**
 * The owner the message names, if the organisation's: only an SCP or an RCP. Any other 403 (the guard's
 * own policies, a VPC endpoint policy, a bare "Access Denied") stays the guard's failure: a network or
 * configuration problem of the deployment must raise the alarm, not pass as the organisation's choice.
 * (Organizations S3 policies manage the account-level Block Public Access, not the bucket-level one the
 * guard writes.)
 */
const organisationOwner = (message: string): string | undefined => {
  if (/service control polic/i.test(message)) return 'a service control policy (SCP)';
  if (/resource control polic/i.test(message)) return 'a resource control policy (RCP)';
  return undefined;
};

/** The finding for a denied guardrail write, or `undefined` when it is a plain failure. */
export const deniedGuardrailWrite = (operation: GuardrailWrite, message: string): Violation | undefined => {
  if (operation === 'PutBucketPolicy' && /BlockPublicPolicy/.test(message)) {
    return {
      code: 'POLICY_PUBLIC_BLOCKED', severity: 'violation',
      detail: 'S3 refused the merged bucket policy as public (BlockPublicPolicy is on for the bucket, the account or the organisation): '
        + 'the guard\'s statements were not written. Narrow the public statements to fixed principals or conditions, or remove them',
    };
  }
  const owner = organisationOwner(message);
  if (!owner) return undefined;
  return {
    code: 'OWNED_BY_ORGANIZATION', severity: 'warning',
    detail: `${operation} was denied by ${owner}: the organisation owns this setting, so the guard leaves it as it is (not a failure). `
      + `Set ${SETTING_OF[operation]} to report or off where the organisation enforces it`,
  };
};
