/**
 * AWS adapter: the hub's credentials in a member account, from STS `AssumeRole` into the account's member
 * role. One set per account, kept until five minutes before it expires (every bucket of a burst or a sweep
 * page shares it), so STS sees one call per account and hour, not one per bucket.
 *
 * A role that cannot be assumed (absent, or its trust does not name the hub) is remembered for a minute:
 * a burst of events about that account costs one refused call, and each of them still gets its finding.
 */
import type { STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { errorMessage, errorName, isTransient } from '../aws-errors';
import { stsSdk } from '../sdk';
import { memberRoleArn } from './names';

/** Credentials are renewed this long before they expire: no request signed with them outlives them. */
export const RENEW_BEFORE_MS = 5 * 60_000;
/** How long a refusal is remembered before STS is asked again. */
export const REFUSAL_MEMORY_MS = 60_000;
const SESSION_NAME = 's3-encryption-guard-hub';
/** One hour: the longest a role allows by default, and STS's role-chaining maximum. */
const DURATION_SECONDS = 3600;

/** The hub could not assume an account's member role: nothing in that account can be read or changed. */
export class MemberRoleUnavailableError extends Error {
  constructor(readonly account: string, readonly roleArn: string, readonly cause: unknown) {
    super(`cannot assume ${roleArn}: ${errorName(cause)}: ${errorMessage(cause)}`);
    this.name = 'MemberRoleUnavailableError';
  }
}

export type MemberCredentials = (account: string) => Promise<AwsCredentialIdentity>;

export interface MemberCredentialsOptions {
  sts: () => STSClient;
  partition: string;
  roleName: string;
  now?: () => number;
}

interface Held {
  credentials: Promise<AwsCredentialIdentity>;
  /** Renew (or, for a refusal, ask again) from this time on. */
  until: number;
}

export const createMemberCredentials = ({ sts, partition, roleName, now = Date.now }: MemberCredentialsOptions): MemberCredentials => {
  const held = new Map<string, Held>();
  const assume = (account: string): Held => {
    const roleArn = memberRoleArn(partition, account, roleName);
    const entry: Held = { credentials: Promise.resolve({} as AwsCredentialIdentity), until: Number.POSITIVE_INFINITY };
    const request = async (): Promise<AwsCredentialIdentity> => {
      try {
        const { Credentials: c } = await sts().send(new (stsSdk().AssumeRoleCommand)({ RoleArn: roleArn, RoleSessionName: SESSION_NAME, DurationSeconds: DURATION_SECONDS }));
        if (!c?.AccessKeyId || !c.SecretAccessKey || !c.Expiration) throw new Error('STS AssumeRole returned no credentials');
        const expiration = new Date(c.Expiration);
        entry.until = expiration.getTime() - RENEW_BEFORE_MS;
        return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}), expiration, accountId: account };
      } catch (error) {
        // Throttling or an STS outage is worth a retry now; any other answer is one about the account.
        if (isTransient(error)) {
          held.delete(account);
          throw error;
        }
        entry.until = now() + REFUSAL_MEMORY_MS;
        throw new MemberRoleUnavailableError(account, roleArn, error);
      }
    };
    entry.credentials = request();
    return entry;
  };
  return (account) => {
    let entry = held.get(account);
    if (!entry || now() >= entry.until) {
      entry = assume(account);
      held.set(account, entry);
    }
    return entry.credentials;
  };
};
