/**
 * Counting what re-keying does to a bucket, page by page, and what it costs. Pure; the totals travel in
 * the queue messages (JSON) from one listing page to the next.
 *
 * Costs are approximate, at us-east-1 list prices (https://aws.amazon.com/s3/pricing/,
 * https://aws.amazon.com/kms/pricing/): S3 bills `UpdateObjectEncryption` as a PUT-class request (assumed),
 * and S3 makes one KMS request per object it re-keys; Batch Operations adds a charge per job and per object.
 */
import type { Decision, IneligibleReason, SourceKind } from './classify';

export interface Amount {
  objects: number;
  bytes: number;
}

export interface Tally {
  /** Objects (or versions) listed. */
  listed: Amount;
  /** Of those, objects whose encryption was read (all but those deleted meanwhile or unreadable). */
  examined: Amount;
  bySource: Partial<Record<SourceKind, Amount>>;
  /** Examined objects `UpdateObjectEncryption` would change, and those already on the target. */
  eligible: Amount;
  alreadyOnTarget: Amount;
  ineligible: Partial<Record<IneligibleReason, Amount>>;
  /** Enforce only: changed (by what they were before), failed (by error), and deleted while the guard worked (not a failure). */
  reencrypted: Partial<Record<SourceKind, number>>;
  failed: Partial<Record<string, number>>;
  vanished: number;
}

export const emptyTally = (): Tally => ({
  listed: { objects: 0, bytes: 0 }, examined: { objects: 0, bytes: 0 }, bySource: {},
  eligible: { objects: 0, bytes: 0 }, alreadyOnTarget: { objects: 0, bytes: 0 }, ineligible: {}, reencrypted: {}, failed: {}, vanished: 0,
});

const add = (amount: Amount | undefined, bytes: number, objects = 1): Amount => ({ objects: (amount?.objects ?? 0) + objects, bytes: (amount?.bytes ?? 0) + bytes });

/** A new tally with one examined object counted. */
export const countExamined = (tally: Tally, size: number, kind: SourceKind, decision: Decision): Tally => ({
  ...tally,
  examined: add(tally.examined, size),
  bySource: { ...tally.bySource, [kind]: add(tally.bySource[kind], size) },
  ...(decision.action === 'update' ? { eligible: add(tally.eligible, size) } : {}),
  ...(decision.action === 'none' ? { alreadyOnTarget: add(tally.alreadyOnTarget, size) } : {}),
  ...(decision.action === 'ineligible' ? { ineligible: { ...tally.ineligible, [decision.reason]: add(tally.ineligible[decision.reason], size) } } : {}),
});

export const countListed = (tally: Tally, sizes: readonly number[]): Tally =>
  ({ ...tally, listed: add(tally.listed, sizes.reduce((sum, size) => sum + size, 0), sizes.length) });

export const countFailure = (tally: Tally, code: string): Tally => ({ ...tally, failed: { ...tally.failed, [code]: (tally.failed[code] ?? 0) + 1 } });

export const countReencrypted = (tally: Tally, kind: SourceKind): Tally => ({ ...tally, reencrypted: { ...tally.reencrypted, [kind]: (tally.reencrypted[kind] ?? 0) + 1 } });

const sum = (counts: Partial<Record<string, number>>): number => Object.values(counts).reduce<number>((total, n) => total + (n ?? 0), 0);
export const failures = (tally: Tally): number => sum(tally.failed);
export const reencrypted = (tally: Tally): number => sum(tally.reencrypted);

/** Examined objects by encryption after the changes counted in the tally (before: `bySource`). */
export const objectsAfter = (tally: Tally): Partial<Record<SourceKind, number>> => {
  const after: Partial<Record<SourceKind, number>> = {};
  for (const [kind, amount] of Object.entries(tally.bySource) as Array<[SourceKind, Amount]>) after[kind] = amount.objects - (tally.reencrypted[kind] ?? 0);
  const moved = reencrypted(tally);
  if (moved > 0) after.SSE_KMS_LISTED_KEY = (after.SSE_KMS_LISTED_KEY ?? 0) + moved;
  return after;
};

/** us-east-1 list prices, USD. */
export const PRICES = {
  headPer1000: 0.0004,
  listPer1000: 0.005,
  updatePer1000: 0.005,
  kmsPer10000: 0.03,
  batchPerJob: 0.25,
  batchPerMillionObjects: 1.0,
} as const;

export interface CostEstimate {
  /**
   * The figures cover only a sample: report mode stops listing a bucket after `reencryptInlineMaxObjects`
   * objects (`covers` says how many), and the bucket holds more. Nothing is extrapolated: the total is unknown.
   */
  sampled: boolean;
  /** The objects (and bytes) the figures count. */
  covers: Amount;
  /** Objects `UpdateObjectEncryption` would change. */
  objectsToReencrypt: number;
  requests: { list: number; head: number; updateObjectEncryption: number; kms: number };
  usd: { inline: number; batchOperations: number };
}

const round = (usd: number): number => Math.round(usd * 10_000) / 10_000;

/** What re-keying the listed objects would cost: inline (list, HEAD each object, update) or with one Batch Operations job. */
export const estimateCost = (tally: Tally, sampled = false): CostEstimate => {
  const objectsToReencrypt = tally.eligible.objects;
  const list = Math.ceil(tally.listed.objects / 1000);
  const head = tally.listed.objects;
  const kms = objectsToReencrypt;
  const updates = (objectsToReencrypt / 1000) * PRICES.updatePer1000 + (kms / 10_000) * PRICES.kmsPer10000;
  return {
    sampled,
    covers: tally.listed,
    objectsToReencrypt,
    requests: { list, head, updateObjectEncryption: objectsToReencrypt, kms },
    usd: {
      inline: round((list / 1000) * PRICES.listPer1000 + (head / 1000) * PRICES.headPer1000 + updates),
      // The manifest generator lists objects by encryption type: no HEAD per object; the filter cannot leave
      // out objects already on the key, so the job counts every SSE-S3 and SSE-KMS object.
      batchOperations: round(PRICES.batchPerJob + (batchManifestObjects(tally) / 1e6) * PRICES.batchPerMillionObjects + updates),
    },
  };
};

const batchManifestObjects = (tally: Tally): number =>
  (['SSE_S3', 'SSE_KMS_OTHER_KEY', 'SSE_KMS_LISTED_KEY'] as const).reduce((sum, kind) => sum + (tally.bySource[kind]?.objects ?? 0), 0);
