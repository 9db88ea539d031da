/**
 * The hub's wiring: which accounts it may act in, and the guard's dependencies in each — the function's
 * own clients for the hub's account, clients signed with the member role's credentials elsewhere. The
 * decisions stay in lib/enforce.ts: the hub only changes whose credentials read and write, and the owner
 * every S3 call expects (`ExpectedBucketOwner` = the account the event names).
 */
import { enforceBucket, type EnforceRequest, type GuardDeps, type Outcome } from '../enforce';
import type { Guard } from '../guard';
import { createAliasLookup } from '../key-aliases';
import { createKeyLookup } from '../key-lookup';
import { createMemberCredentials, type MemberCredentials, MemberRoleUnavailableError } from './member-credentials';
import { listActiveAccounts } from './org-accounts';
import { type AccountScope, createAccountScope } from './scope';
import type { Identity } from '../account';
import { unreachableFinding } from './unreachable';

/**
 * Accounts whose clients one container keeps (about 30 KB per SDK client and region): enough for the
 * accounts of a burst or of sweep pages, bounded however many accounts the organisation has.
 */
export const MEMBER_CLIENTS_KEPT = 100;

export interface Hub {
  scope: AccountScope;
  /**
   * The guard's dependencies acting in `account`. Assumes the member role first, so a role that cannot be
   * assumed surfaces here as a MemberRoleUnavailableError, before any bucket is touched.
   */
  depsFor(account: string): Promise<GuardDeps>;
}

export interface HubOptions {
  guard: Guard;
  homeAccount: string;
  partition: string;
  /** Tests pass their own; the default assumes through STS in the hub's region. */
  credentials?: MemberCredentials;
}

export const createHub = ({ guard, homeAccount, partition, credentials }: HubOptions): Hub => {
  const settings = guard.config.organization;
  const memberCredentials = credentials ?? createMemberCredentials({ sts: () => guard.sts(guard.homeRegion), partition, roleName: settings.memberRoleName });
  const scope = createAccountScope({ settings, homeAccount, organizationAccounts: () => listActiveAccounts(guard.organizations(guard.homeRegion)) });
  // Buckets made by the guard's own stack are exempt in the hub's account only: anyone may name a stack
  // of a member account like the hub's, and must not exempt their buckets that way.
  const { stackName: _hubStack, ...memberConfig } = guard.config;
  // Most recently used last: a container that sees many accounts keeps the clients of the latest few.
  const members = new Map<string, GuardDeps>();
  const forMember = (account: string): GuardDeps => {
    let deps = members.get(account);
    if (deps) members.delete(account);
    else {
      // Clients, key facts and aliases per account: what a key looks like depends on who asks.
      const clients = guard.clientsAs(() => memberCredentials(account));
      deps = { ...guard, config: memberConfig, s3: clients.s3, describeKey: createKeyLookup(clients.kms), keyAliases: createAliasLookup(clients.kms) };
    }
    members.set(account, deps);
    if (members.size > MEMBER_CLIENTS_KEPT) members.delete(members.keys().next().value!);
    return deps;
  };
  return {
    scope,
    async depsFor(account) {
      if (account === homeAccount) return guard;
      await memberCredentials(account);
      return forMember(account);
    },
  };
};

/** With organization=hub: the hub of the function's identity, made once per container; otherwise none. */
export const hubFactory = (guard: Guard): ((identity: Identity) => Hub) | undefined => {
  if (guard.config.organization.mode !== 'hub') return undefined;
  let hub: { key: string; hub: Hub } | undefined;
  return (identity) => {
    const key = `${identity.partition}:${identity.accountId}`;
    if (hub?.key !== key) hub = { key, hub: createHub({ guard, homeAccount: identity.accountId, partition: identity.partition }) };
    return hub.hub;
  };
};

/**
 * `enforceBucket` in the request's account, through its member role. A role that cannot be assumed — before
 * the evaluation, or on renewal during it — is the bucket's ERROR finding (MEMBER_ROLE_UNAVAILABLE).
 */
export const enforceThrough = async (hub: Hub, request: EnforceRequest): Promise<Outcome> => {
  const started = Date.now();
  try {
    return await enforceBucket(request, await hub.depsFor(request.accountId));
  } catch (error) {
    if (!(error instanceof MemberRoleUnavailableError)) throw error;
    return { kind: 'finding', finding: unreachableFinding({ bucket: request.bucket, region: request.region, trigger: request.trigger, error, durationMs: Date.now() - started }) };
  }
};
