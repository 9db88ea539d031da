/**
 * DynamoDB adapter for the flap ledger: the guard's remediations per bucket, so that two automations
 * fighting over a bucket cannot make the guard rewrite it forever. One item per bucket; an update both
 * records a remediation and returns the recent ones (one call), and is conditional on the event id, so a
 * duplicate delivery of the same event counts once. Items expire (TTL) a window after the last entry.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { errorMessage, errorName } from './aws-errors';
import { dynamoDbSdk } from './sdk';

export interface LedgerEntry {
  /** Epoch milliseconds. */
  at: number;
  eventId: string;
  /** Who made the change the remediation undid. */
  actor: string;
}

export type RecordOutcome =
  | { status: 'recorded'; entries: LedgerEntry[] }
  /** This event was counted already: another delivery of it is remediating the bucket. */
  | { status: 'duplicate' }
  | { status: 'unavailable'; reason: string };

export type RecentOutcome = { status: 'read'; entries: LedgerEntry[] } | { status: 'unavailable'; reason: string };

export interface FlapLedger {
  record(bucket: string, entry: LedgerEntry): Promise<RecordOutcome>;
  recent(bucket: string): Promise<RecentOutcome>;
}

const toEntries = (item: Record<string, AttributeValue> | undefined): LedgerEntry[] =>
  (item?.entries?.L ?? []).flatMap((value) => {
    const m = value.M;
    return m?.at?.N && m.eventId?.S && m.actor?.S ? [{ at: Number(m.at.N), eventId: m.eventId.S, actor: m.actor.S }] : [];
  });

const unavailable = (error: unknown): { status: 'unavailable'; reason: string } =>
  ({ status: 'unavailable', reason: `${errorName(error)}: ${errorMessage(error)}` });

/**
 * How long an entry marks its event as being remediated by another delivery. Longer than one
 * enforceBucket run (timeout 60 s), shorter than the settle queue's visibility timeout (360 s): a
 * redelivery after a failed attempt finds the lease expired and remediates (counted once already).
 */
export const LEASE_MS = 120_000;
/** Entries kept per bucket; older ones are trimmed (a fight that goes on must not outgrow the item). */
export const MAX_ENTRIES = 40;

export const createFlapLedger = (dynamodb: () => DynamoDBClient, table: string, windowMs: number): FlapLedger => {
  const read = async (bucket: string): Promise<LedgerEntry[]> => {
    const { Item } = await dynamodb().send(new (dynamoDbSdk().GetItemCommand)({ TableName: table, Key: { bucket: { S: bucket } }, ConsistentRead: true }));
    return toEntries(Item);
  };
  /** Best effort: drop the oldest entries, only if the list is still the one just read. */
  const trim = async (bucket: string, entries: LedgerEntry[]): Promise<void> => {
    const drop = entries.slice(0, entries.length - MAX_ENTRIES / 2);
    await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
      TableName: table,
      Key: { bucket: { S: bucket } },
      UpdateExpression: `REMOVE ${drop.map((_, index) => `entries[${index}]`).join(', ')} DELETE eventIds :old`,
      ConditionExpression: 'size(entries) = :length',
      ExpressionAttributeValues: { ':old': { SS: drop.map((e) => e.eventId) }, ':length': { N: String(entries.length) } },
    })).catch(() => undefined);
  };
  return {
    async record(bucket, entry) {
      try {
        const { Attributes } = await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
          TableName: table,
          Key: { bucket: { S: bucket } },
          UpdateExpression: 'SET entries = list_append(if_not_exists(entries, :none), :entry), expiresAt = :expires ADD eventIds :ids',
          ConditionExpression: 'attribute_not_exists(eventIds) OR NOT contains(eventIds, :eventId)',
          ExpressionAttributeValues: {
            ':none': { L: [] },
            ':entry': { L: [{ M: { at: { N: String(entry.at) }, eventId: { S: entry.eventId }, actor: { S: entry.actor } } }] },
            ':expires': { N: String(Math.ceil((entry.at + windowMs) / 1000)) },
            ':ids': { SS: [entry.eventId] },
            ':eventId': { S: entry.eventId },
          },
          ReturnValues: 'ALL_NEW',
        }));
        const entries = toEntries(Attributes);
        if (entries.length > MAX_ENTRIES) await trim(bucket, entries);
        return { status: 'recorded', entries };
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') return unavailable(error);
      }
      // This event is in the ledger already: another delivery is at work, unless its lease ran out (that
      // attempt failed and this is the queue's retry).
      try {
        const entries = await read(bucket);
        const earlier = entries.find((e) => e.eventId === entry.eventId);
        return earlier && earlier.at <= entry.at - LEASE_MS ? { status: 'recorded', entries } : { status: 'duplicate' };
      } catch (error) {
        return unavailable(error);
      }
    },
    async recent(bucket) {
      try {
        return { status: 'read', entries: await read(bucket) };
      } catch (error) {
        return unavailable(error);
      }
    },
  };
};

/** The remediations within the window, and whether one more would pass the threshold. Pure. */
export const flapping = (entries: readonly LedgerEntry[], now: number, windowMs: number, threshold: number, including: boolean):
  { flapping: boolean; actors: string[]; count: number } => {
  const recent = entries.filter((entry) => entry.at > now - windowMs);
  // `including`: `entries` already holds the remediation about to be made.
  const count = recent.length;
  return { flapping: including ? count > threshold : count >= threshold, actors: [...new Set(recent.map((entry) => entry.actor))], count };
};
