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
  /** The setting the actor changed and the guard wrote back. */
  setting?: string;
}

export type ClaimOutcome =
  | { status: 'claimed'; entries: LedgerEntry[] }
  /** Another delivery of this event holds the claim and is at work on the bucket. */
  | { status: 'duplicate' }
  | { status: 'unavailable'; reason: string };

export type RecentOutcome = { status: 'read'; entries: LedgerEntry[] } | { status: 'unavailable'; reason: string };

export interface FlapLedger {
  /** `by`: this delivery's own token, so that the SDK's retry of a claim that did land is known as ours. */
  claim(bucket: string, eventId: string, at: number, by: string): Promise<ClaimOutcome>;
  recent(bucket: string): Promise<RecentOutcome>;
  /** Records a write that undid `entry.actor`'s change. Best effort: the write itself is done. */
  recordWrite(bucket: string, entry: LedgerEntry): Promise<void>;
}

/**
 * How long a claim keeps other deliveries of its event away. Longer than one enforceBucket run (timeout
 * 60 s), shorter than the settle queue's visibility timeout (360 s).
 */
export const LEASE_MS = 120_000;
/** Entries tolerated before those outside the window (which no longer count) are removed. */
export const MAX_ENTRIES = 40;
/** Expired claims tolerated on an item before they are removed (one extra call, now and then). */
const MAX_STALE_CLAIMS = 20;
/** Names one REMOVE may list: DynamoDB limits an expression to 4 KB and 300 operators. */
const MAX_REMOVALS = 100;
const CLAIM_PREFIX = 'claim:';

const toEntries = (item: Record<string, AttributeValue> | undefined): LedgerEntry[] =>
  (item?.entries?.L ?? []).flatMap((value) => {
    const m = value.M;
    if (!m?.at?.N || !m.eventId?.S || !m.actor?.S) return [];
    return [{
      at: Number(m.at.N), eventId: m.eventId.S, actor: m.actor.S,
      ...(m.changedAt?.N ? { changedAt: Number(m.changedAt.N) } : {}), ...(m.setting?.S ? { setting: m.setting.S } : {}),
    }];
  });

/** A claim's time: a map `{at, by}` (a number in items written before the claim carried its holder). */
const claimTime = (value: AttributeValue): number => Number(value.M?.at?.N ?? value.N ?? 0);

const unavailable = (error: unknown): { status: 'unavailable'; reason: string } =>
  ({ status: 'unavailable', reason: `${errorName(error)}: ${errorMessage(error)}` });

export const createFlapLedger = (dynamodb: () => DynamoDBClient, table: string, windowMs: number): FlapLedger => {
  const key = (bucket: string) => ({ bucket: { S: bucket } });
  const expires = (at: number): AttributeValue => ({ N: String(Math.ceil((at + windowMs) / 1000)) });
  /**
   * Best effort: drop what no longer counts — entries and claims older than the window — only if the item
   * is still as just read. Entries within the window are kept whatever their number: they are what the
   * threshold is judged on, and they cannot grow past it (a bucket past it gets no more writes).
   */
  const tidy = async (bucket: string, item: Record<string, AttributeValue>, at: number): Promise<void> => {
    const entries = toEntries(item);
    const staleClaims = Object.entries(item).filter(([name, value]) => name.startsWith(CLAIM_PREFIX) && claimTime(value) < at - windowMs).map(([name]) => name);
    const staleEntries = entries.length > MAX_ENTRIES ? entries.flatMap((entry, index) => (entry.at <= at - windowMs ? [index] : [])) : [];
    if (staleEntries.length === 0 && staleClaims.length <= MAX_STALE_CLAIMS) return;
    const entryRemovals = staleEntries.slice(0, MAX_REMOVALS).map((index) => `entries[${index}]`);
    const names = Object.fromEntries(staleClaims.slice(0, MAX_REMOVALS - entryRemovals.length).map((name, index) => [`#c${index}`, name]));
    const removals = [...entryRemovals, ...Object.keys(names)];
    if (removals.length === 0) return;
    await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
      TableName: table, Key: key(bucket),
      UpdateExpression: `REMOVE ${removals.join(', ')}`,
      ConditionExpression: 'size(entries) = :length',
      ExpressionAttributeValues: { ':length': { N: String(entries.length) } },
      ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}),
    })).catch(() => undefined);
  };
  return {
    async claim(bucket, eventId, at, by) {
      const name = `${CLAIM_PREFIX}${eventId}`;
      try {
        const { Attributes = {} } = await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
          TableName: table, Key: key(bucket),
          UpdateExpression: 'SET #claim = :claim, entries = if_not_exists(entries, :none), expiresAt = :expires',
          ConditionExpression: 'attribute_not_exists(#claim) OR #claim.#at < :leaseStart',
          ExpressionAttributeNames: { '#claim': name, '#at': 'at' },
          ExpressionAttributeValues: {
            ':claim': { M: { at: { N: String(at) }, by: { S: by } } }, ':none': { L: [] }, ':expires': expires(at), ':leaseStart': { N: String(at - LEASE_MS) },
          },
          ReturnValues: 'ALL_NEW',
          // When the condition fails, the item says who holds the claim: a retry of our own landed claim is ours.
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }));
        await tidy(bucket, Attributes, at);
        return { status: 'claimed', entries: toEntries(Attributes) };
      } catch (error) {
        if (errorName(error) !== 'ConditionalCheckFailedException') return unavailable(error);
        const item = (error as { Item?: Record<string, AttributeValue> }).Item;
        return item?.[name]?.M?.by?.S === by ? { status: 'claimed', entries: toEntries(item) } : { status: 'duplicate' };
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
        ...(entry.setting !== undefined ? { setting: { S: entry.setting } } : {}),
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

/** One actor's round in a fight: its changes that the guard undid, up to its next change of a setting the guard had already written back. */
export interface Fight {
  actor: string;
  startedAt: number;
  writes: number;
  /** When the guard first wrote back each setting in this round. */
  writtenAt: Record<string, number>;
}

const changeTime = (entry: Pick<LedgerEntry, 'at' | 'changedAt'>): number => entry.changedAt ?? entry.at;

/**
 * CloudTrail's eventTime has whole seconds: a change within a second after the guard's write may read as
 * before it. Such a change counts as after the write (a new round), so a fast fighter is never missed.
 */
const EVENT_TIME_RESOLUTION_MS = 1000;

/** Whether a change (of `setting`, at `changedAt`) by the round's actor belongs to the round. */
const belongsTo = (fight: Fight, changedAt: number, setting: string | undefined): boolean => {
  const corrected = setting === undefined ? Math.min(...Object.values(fight.writtenAt)) : fight.writtenAt[setting];
  return corrected === undefined || changedAt + EVENT_TIME_RESOLUTION_MS < corrected;
};

/**
 * The rounds in the ledger's recent entries. An actor starts a new round only by changing a setting again
 * after the guard wrote it back: that is fighting. Everything else one actor changes before the guard's
 * correction — one `terraform apply` setting encryption, policy and Block Public Access, however long it
 * runs, in whatever order its events arrive — is one round.
 */
export const fightsIn = (entries: readonly LedgerEntry[]): Fight[] => {
  const fights: Fight[] = [];
  for (const entry of [...entries].sort((a, b) => changeTime(a) - changeTime(b))) {
    const changedAt = changeTime(entry);
    const current = fights.filter((f) => f.actor === entry.actor).at(-1);
    const setting = entry.setting ?? 'unknown';
    if (current && belongsTo(current, changedAt, entry.setting)) {
      current.writes += 1;
      current.writtenAt[setting] = Math.min(current.writtenAt[setting] ?? Number.POSITIVE_INFINITY, entry.at);
    } else {
      fights.push({ actor: entry.actor, startedAt: changedAt, writes: 1, writtenAt: { [setting]: entry.at } });
    }
  }
  return fights;
};

export interface FlapInput {
  entries: readonly LedgerEntry[];
  now: number;
  windowMs: number;
  threshold: number;
  /** The change this write would undo, when it counts (an event whose own change the write undoes). */
  undoing?: { actor: string; changedAt: number; setting: string };
}

export interface FlapState {
  flapping: boolean;
  /** Rounds of the actor this is about (with this one, when it starts a new round), or of the busiest actor. */
  rounds: number;
  /** Writes made within the window. */
  writes: number;
  /** Who fights: the actor this is about, or every actor at the threshold. */
  actors: string[];
}

/**
 * Whether one more write would pass the threshold. Pure. Rounds are counted per actor: three people each
 * changing a bucket once is no fight. A write that undoes an actor's change stops once that actor's rounds
 * would pass the threshold; any other write (a sweep, a new bucket) stops while some actor is at it.
 */
export const flapState = (input: FlapInput): FlapState => {
  const recent = input.entries.filter((entry) => entry.at > input.now - input.windowMs);
  const fights = fightsIn(recent);
  const roundsOf = (actor: string): number => fights.filter((f) => f.actor === actor).length;
  const { undoing } = input;
  if (undoing) {
    const current = fights.filter((f) => f.actor === undoing.actor).at(-1);
    const rounds = roundsOf(undoing.actor) + (current && belongsTo(current, undoing.changedAt, undoing.setting) ? 0 : 1);
    return { flapping: rounds > input.threshold, rounds, writes: recent.length, actors: [undoing.actor] };
  }
  const fighters = [...new Set(fights.map((f) => f.actor))].filter((actor) => roundsOf(actor) >= input.threshold);
  return { flapping: fighters.length > 0, rounds: Math.max(0, ...fights.map((f) => roundsOf(f.actor))), writes: recent.length, actors: fighters };
};
