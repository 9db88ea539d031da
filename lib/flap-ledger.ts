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

export const createFlapLedger = (dynamodb: () => DynamoDBClient, table: string, windowMs: number): FlapLedger => ({
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
      return { status: 'recorded', entries: toEntries(Attributes) };
    } catch (error) {
      if (errorName(error) === 'ConditionalCheckFailedException') return { status: 'duplicate' };
      return unavailable(error);
    }
  },
  async recent(bucket) {
    try {
      const { Item } = await dynamodb().send(new (dynamoDbSdk().GetItemCommand)({ TableName: table, Key: { bucket: { S: bucket } }, ConsistentRead: true }));
      return { status: 'read', entries: toEntries(Item) };
    } catch (error) {
      return unavailable(error);
    }
  },
});

/** The remediations within the window, and whether one more would pass the threshold. Pure. */
export const flapping = (entries: readonly LedgerEntry[], now: number, windowMs: number, threshold: number, including: boolean):
  { flapping: boolean; actors: string[]; count: number } => {
  const recent = entries.filter((entry) => entry.at > now - windowMs);
  // `including`: `entries` already holds the remediation about to be made.
  const count = recent.length;
  return { flapping: including ? count > threshold : count >= threshold, actors: [...new Set(recent.map((entry) => entry.actor))], count };
};
