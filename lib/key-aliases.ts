/**
 * KMS adapter: the aliases of a listed key, which uploads may name instead of the key
 * (`x-amz-server-side-encryption-aws-kms-key-id` takes a key id, key ARN, alias name or alias ARN).
 * `DescribeKey` does not return aliases; `ListAliases` with `KeyId` does — in the caller's own account
 * only, and an alias can only point at a key of its own account, so a key of another account has none
 * the bucket's writers could use. Cached per container with the key facts' TTL; concurrent lookups of one
 * key share one request.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { isTransient } from './aws-errors';
import { KEY_CACHE_TTL_MS } from './key-lookup';
import { parseKeyArn } from './kms-arn';
import { createPromiseCache } from './promise-cache';
import { kmsSdk } from './sdk';

/** Alias names (`alias/app`) and alias ARNs; `unknown` when KMS would not list them. */
export type KeyAliases = readonly string[] | 'unknown';
export type KeyAliasesFn = (keyArn: string, accountId: string) => Promise<KeyAliases>;

const list = async (kms: KMSClient, keyArn: string): Promise<KeyAliases> => {
  const aliases: string[] = [];
  try {
    for await (const page of kmsSdk().paginateListAliases({ client: kms }, { KeyId: keyArn })) {
      for (const alias of page.Aliases ?? []) aliases.push(...[alias.AliasName, alias.AliasArn].filter((name): name is string => Boolean(name)));
    }
  } catch (error) {
    if (isTransient(error)) throw error;
    return 'unknown'; // denied, or the key is gone (its key check says so)
  }
  return aliases;
};

export const createAliasLookup = (
  kms: (region: string) => KMSClient,
  ttlMs = KEY_CACHE_TTL_MS,
  now: () => number = Date.now,
): KeyAliasesFn => {
  const cache = createPromiseCache<KeyAliases>(ttlMs, now);
  return async (keyArn, accountId) => {
    const key = parseKeyArn(keyArn);
    if (!key || key.accountId !== accountId) return [];
    return cache.get(keyArn) ?? cache.set(keyArn, list(kms(key.region), keyArn));
  };
};
