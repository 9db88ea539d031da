/**
 * AWS adapter: the organisation's active accounts (Organizations ListAccounts, every page). Only the
 * management account or the delegated administrator may list them; the README says how to make the hub
 * account the delegated administrator, or to list `memberAccounts` instead.
 */
import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import { organizationsSdk } from '../sdk';

export const listActiveAccounts = async (organizations: OrganizationsClient): Promise<string[]> => {
  const ids: string[] = [];
  for await (const page of organizationsSdk().paginateListAccounts({ client: organizations }, {})) {
    for (const account of page.Accounts ?? []) {
      // `State` replaces `Status` (retired 2026-09-09); an account being closed or suspended is not guarded.
      const state = account.State ?? account.Status;
      if (account.Id && state === 'ACTIVE') ids.push(account.Id);
    }
  }
  return ids;
};
