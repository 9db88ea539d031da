/**
 * KMS adapter: what `DescribeKey` (and, for customer keys, `GetKeyRotationStatus`) says of a key,
 * cached per container with a short TTL. Concurrent lookups of one key share one request. The cache serves
 * only decisions that write nothing: a key about to be written to a bucket is described `fresh` (a key
 * disabled during an incident must stop being applied at once, not a TTL later), and the fresh answer
 * replaces the cached one.
 */
import type { KMSClient } from '@aws-sdk/client-kms';
import { errorMessage, errorName, isAccessDenied, isTransient } from './aws-errors';
import type { KeyFacts } from './key-checks';
import { createPromiseCache } from './promise-cache';
import { kmsSdk } from './sdk';

export const KEY_CACHE_TTL_MS = 5 * 60 * 1000;

export type DescribeKeyFn = (ref: string, region: string, options?: { fresh?: boolean }) => Promise<KeyFacts>;

const describe = async (kms: KMSClient, ref: string, withRotation: boolean): Promise<KeyFacts> => {
  let metadata;
  try {
    ({ KeyMetadata: metadata } = await kms.send(new (kmsSdk().DescribeKeyCommand)({ KeyId: ref })));
  } catch (error) {
    if (isTransient(error)) throw error;
    if (errorName(error) === 'NotFoundException') return { found: false, reason: `key ${ref} does not exist` };
    if (isAccessDenied(error)) return { found: false, reason: `key ${ref} cannot be described (access denied): not usable by this account` };
    return { found: false, reason: `key ${ref} cannot be described: ${errorName(error)}: ${errorMessage(error)}` };
  }
  if (!metadata?.Arn) return { found: false, reason: `key ${ref}: DescribeKey returned no metadata` };
  const [, , , region = '', accountId = ''] = metadata.Arn.split(':');
  const facts: KeyFacts = {
    found: true,
    arn: metadata.Arn,
    accountId: metadata.AWSAccountId ?? accountId,
    region,
    keyState: metadata.KeyState ?? 'Unknown',
    keySpec: metadata.KeySpec ?? 'Unknown',
    keyUsage: metadata.KeyUsage ?? 'Unknown',
    keyManager: metadata.KeyManager ?? 'Unknown',
  };
  // Rotation only feeds a warning: a fresh check before a write does not pay for it.
  if (!withRotation || facts.keyManager !== 'CUSTOMER' || facts.keyState !== 'Enabled') return facts;
  try {
    const { KeyRotationEnabled } = await kms.send(new (kmsSdk().GetKeyRotationStatusCommand)({ KeyId: metadata.Arn }));
    return { ...facts, rotationEnabled: KeyRotationEnabled };
  } catch (error) {
    if (isTransient(error)) throw error;
    return facts; // rotation unknown: no warning rather than a false one
  }
};

export const createKeyLookup = (
  kms: (region: string) => KMSClient,
  ttlMs = KEY_CACHE_TTL_MS,
  now: () => number = Date.now,
): DescribeKeyFn => {
  const cache = createPromiseCache<KeyFacts>(ttlMs, now);
  return (ref, region, options) => {
    const cacheKey = `${region} ${ref}`;
    const fresh = options?.fresh === true;
    const hit = fresh ? undefined : cache.get(cacheKey);
    if (hit) return hit;
    // A fresh answer keeps the rotation status already known (it only feeds a warning).
    const previous = cache.last(cacheKey);
    return cache.set(cacheKey, describe(kms(region), ref, !fresh).then(async (described) => {
      const known = fresh && previous ? await previous.catch(() => undefined) : undefined;
      return described.found && known?.found && described.keyState === 'Enabled' && known.rotationEnabled !== undefined
        ? { ...described, rotationEnabled: known.rotationEnabled } : described;
    }));
  };
};
