/**
 * Where the hub may act: its own account always; else the accounts listed in `memberAccounts`, or — when
 * none are listed — the active accounts of the organisation. The event bus's policy already admits only
 * the organisation (or the list); this is the second check, on the account each event names, because an
 * event only triggers an evaluation and the hub must never assume a role it was not meant to.
 */
import type { OrganizationSettings } from '../config';

export type ScopeDecision = { ok: true } | { ok: false; reason: string };

export interface AccountScope {
  /** Whether the hub may act in the account an event names (with the reason when not). */
  check(account: string): Promise<ScopeDecision>;
  /** Every account the sweep covers: the hub's own first, then the members, each once. */
  accounts(): Promise<string[]>;
}

/** The organisation's active accounts are listed again after this long (accounts join and leave). */
export const ORGANIZATION_ACCOUNTS_TTL_MS = 10 * 60_000;
/** An account not in a list older than this gets one fresh listing before it is refused: it may have just joined. */
const RELIST_UNKNOWN_AFTER_MS = 60_000;

export interface AccountScopeOptions {
  settings: OrganizationSettings;
  homeAccount: string;
  /** The organisation's ACTIVE account ids (Organizations ListAccounts): needed only when no accounts are listed. */
  organizationAccounts: () => Promise<readonly string[]>;
  now?: () => number;
}

export const createAccountScope = ({ settings, homeAccount, organizationAccounts, now = Date.now }: AccountScopeOptions): AccountScope => {
  const listed = new Set(settings.memberAccounts);
  let known: { accounts: Promise<Set<string>>; at: number } | undefined;
  const members = (fresh: boolean): Promise<Set<string>> => {
    if (!known || fresh || now() - known.at >= ORGANIZATION_ACCOUNTS_TTL_MS) {
      const entry = { accounts: organizationAccounts().then((ids) => new Set(ids)), at: now() };
      entry.accounts.catch(() => { if (known === entry) known = undefined; });
      known = entry;
    }
    return known.accounts;
  };
  return {
    async check(account) {
      if (account === homeAccount) return { ok: true };
      if (listed.size > 0) {
        return listed.has(account) ? { ok: true } : { ok: false, reason: `account ${account} is not in memberAccounts; the hub acts only in ${[homeAccount, ...listed].join(', ')}` };
      }
      let accounts = await members(false);
      if (!accounts.has(account) && known && now() - known.at >= RELIST_UNKNOWN_AFTER_MS) accounts = await members(true);
      return accounts.has(account) ? { ok: true } : { ok: false, reason: `account ${account} is not an active account of organization ${settings.organizationId ?? '(unknown)'}` };
    },
    async accounts() {
      const others = listed.size > 0 ? listed : await members(false);
      return [homeAccount, ...[...others].filter((account) => account !== homeAccount).sort()];
    },
  };
};
