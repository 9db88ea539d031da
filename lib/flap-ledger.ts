/**
 * The flap ledger: the guard's writes per bucket, so that an automation fighting the guard over a bucket
 * cannot make it rewrite the bucket forever — while one deploy's burst of changes is never taken for a
 * fight. DynamoDB, one item per bucket:
 * - a claim per event (`claim:<eventId>`), taken with one conditional update before the first write, so
 *   that of several deliveries of one event only one writes; a claim older than the lease is taken over
 *   (that attempt failed and this is the queue's retry);
 * - `entries`: the writes that undid an actor's change, appended only after the write succeeded.
 * Items expire (TTL) a window after the last activity.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { errorMessage, errorName } from './aws-errors';
import { dynamoDbSdk } from './sdk';

export interface LedgerEntry {
  /** When the guard wrote (epoch ms). */
  at: number;
  eventId: string;
  /** Who made the change the write undid. */
  actor: string;
  /** When that actor's change was made (CloudTrail eventTime, epoch ms); absent: unknown. */
  changedAt?: number;
}

export type ClaimOutcome =
  | { status: 'claimed'; entries: LedgerEntry[] }
  /** Another delivery of this event holds the claim and is at work on the bucket. */
  | { status: 'duplicate' }
  | { status: 'unavailable'; reason: string };

export type RecentOutcome = { status: 'read'; entries: LedgerEntry[] } | { status: 'unavailable'; reason: string };

export interface FlapLedger {
  claim(bucket: string, eventId: string, at: number): Promise<ClaimOutcome>;
  recent(bucket: string): Promise<RecentOutcome>;
  /** Records a write that undid `entry.actor`'s change. Best effort: the write itself is done. */
  recordWrite(bucket: string, entry: LedgerEntry): Promise<void>;
}

/**
 * How long a claim keeps other deliveries of its event away. Longer than one enforceBucket run (timeout
 * 60 s), shorter than the settle queue's visibility timeout (360 s).
 */
export const LEASE_MS = 120_000;
/** Entries kept per bucket; older ones are trimmed (a fight that goes on must not outgrow the item). */
export const MAX_ENTRIES = 40;
/** Expired claims tolerated on an item before they are removed (one extra call, now and then). */
const MAX_STALE_CLAIMS = 20;
const CLAIM_PREFIX = 'claim:';

const toEntries = (item: Record<string, AttributeValue> | undefined): LedgerEntry[] =>
  (item?.entries?.L ?? []).flatMap((value) => {
    const m = value.M;
    if (!m?.at?.N || !m.eventId?.S || !m.actor?.S) return [];
    return [{ at: Number(m.at.N), eventId: m.eventId.S, actor: m.actor.S, ...(m.changedAt?.N ? { changedAt: Number(m.changedAt.N) } : {}) }];
  });

const unavailable = (error: unknown): { status: 'unavailable'; reason: string } =>
  ({ status: 'unavailable', reason: `${errorName(error)}: ${errorMessage(error)}` });

export const createFlapLedger = (dynamodb: () => DynamoDBClient, table: string, windowMs: number): FlapLedger => {
  const key = (bucket: string) => ({ bucket: { S: bucket } });
  const expires = (at: number): AttributeValue => ({ N: String(Math.ceil((at + windowMs) / 1000)) });
  /** Best effort: drop what has outlived its use, only if the item is still as just read. */
  const tidy = async (bucket: string, item: Record<string, AttributeValue>, at: number): Promise<void> => {
    const entries = toEntries(item);
    const staleClaims = Object.entries(item).filter(([name, value]) => name.startsWith(CLAIM_PREFIX) && Number(value.N) < at - windowMs).map(([name]) => name);
    const dropEntries = entries.length > MAX_ENTRIES ? entries.length - MAX_ENTRIES / 2 : 0;
    if (dropEntries === 0 && staleClaims.length <= MAX_STALE_CLAIMS) return;
    const names = Object.fromEntries(staleClaims.map((name, index) => [`#c${index}`, name]));
    const removals = [...Array.from({ length: dropEntries }, (_, index) => `entries[${index}]`), ...Object.keys(names)];
    await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
      TableName: table, Key: key(bucket),
      UpdateExpression: `REMOVE ${removals.join(', ')}`,
      ConditionExpression: 'size(entries) = :length',
      ExpressionAttributeValues: { ':length': { N: String(entries.length) } },
      ...(staleClaims.length > 0 ? { ExpressionAttributeNames: names } : {}),
    })).catch(() => undefined);
  };
  return {
    async claim(bucket, eventId, at) {
      try {
        const { Attributes = {} } = await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
          TableName: table, Key: key(bucket),
          UpdateExpression: 'SET #claim = :at, entries = if_not_exists(entries, :none), expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(#claim) OR #claim < :leaseStart',
          ExpressionAttributeNames: { '#claim': `${CLAIM_PREFIX}${eventId}` },
          ExpressionAttributeValues: { ':at': { N: String(at) }, ':none': { L: [] }, ':expires': expires(at), ':leaseStart': { N: String(at - LEASE_MS) } },
          ReturnValues: 'ALL_NEW',
        }));
        await tidy(bucket, Attributes, at);
        return { status: 'claimed', entries: toEntries(Attributes) };
      } catch (error) {
        return errorName(error) === 'ConditionalCheckFailedException' ? { status: 'duplicate' } : unavailable(error);
      }
    },
    async recent(bucket) {
      try {
        const { Item } = await dynamodb().send(new (dynamoDbSdk().GetItemCommand)({ TableName: table, Key: key(bucket), ConsistentRead: true }));
        return { status: 'read', entries: toEntries(Item) };
      } catch (error) {
        return unavailable(error);
      }
    },
    async recordWrite(bucket, entry) {
      const value: Record<string, AttributeValue> = {
        at: { N: String(entry.at) }, eventId: { S: entry.eventId }, actor: { S: entry.actor },
        ...(entry.changedAt !== undefined ? { changedAt: { N: String(entry.changedAt) } } : {}),
      };
      try {
        const { Attributes = {} } = await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
          TableName: table, Key: key(bucket),
          UpdateExpression: 'SET entries = list_append(if_not_exists(entries, :none), :entry), expiresAt = :expires',
          ExpressionAttributeValues: { ':none': { L: [] }, ':entry': { L: [{ M: value }] }, ':expires': expires(entry.at) },
          ReturnValues: 'ALL_NEW',
        }));
        await tidy(bucket, Attributes, entry.at);
      } catch {
        // The write is done; an unrecorded one only weakens flap protection, which the next claim reports.
      }
    },
  };
};

/** One actor's burst of changes: the writes that undid changes it made within `collapseMs` of the first. */
export interface Fight {
  actor: string;
  startedAt: number;
  writes: number;
}

/**
 * The fights in the ledger's recent entries. Entries of one actor whose changes lie within `collapseMs`
 * (the settle window) of an earlier one's are one change: one `terraform apply` touching encryption,
 * policy and Block Public Access is one, however many writes undid it. A real fight cannot collapse: the
 * actor's next change comes after the guard's write, which comes a settle window after the change it undid.
 */
export const fightsIn = (entries: readonly LedgerEntry[], collapseMs: number): Fight[] => {
  const fights: Fight[] = [];
  const byChange = [...entries].sort((a, b) => (a.changedAt ?? a.at) - (b.changedAt ?? b.at));
  for (const entry of byChange) {
    const changedAt = entry.changedAt ?? entry.at;
    const fight = fights.find((f) => f.actor === entry.actor && changedAt - f.startedAt <= collapseMs);
    if (fight) fight.writes += 1;
    else fights.push({ actor: entry.actor, startedAt: changedAt, writes: 1 });
  }
  return fights;
};

export interface FlapInput {
  entries: readonly LedgerEntry[];
  now: number;
  windowMs: number;
  collapseMs: number;
  threshold: number;
  /** The change this write would undid, when it counts (an event whose own change the write undoes). */
  undoing?: { actor: string; changedAt: number };
}

export interface FlapState {
  flapping: boolean;
  /** Separate changes undone within the window, this one included when it counts. */
  fights: number;
  /** Writes made within the window. */
  writes: number;
  actors: string[];
}

/** Whether one more write would pass the threshold. Pure. */
export const flapState = (input: FlapInput): FlapState => {
  const recent = input.entries.filter((entry) => entry.at > input.now - input.windowMs);
  const fights = fightsIn(recent, input.collapseMs);
  const { undoing } = input;
  const joins = undoing !== undefined && fights.some((f) => f.actor === undoing.actor && undoing.changedAt >= f.startedAt && undoing.changedAt - f.startedAt <= input.collapseMs);
  const count = fights.length + (undoing && !joins ? 1 : 0);
  return {
    // A write that counts may bring the fights up to the threshold; any other write stops at it.
    flapping: undoing ? count > input.threshold : count >= input.threshold,
    fights: count,
    writes: recent.length,
    actors: [...new Set([...fights.map((f) => f.actor), ...(undoing ? [undoing.actor] : [])])],
  };
};
