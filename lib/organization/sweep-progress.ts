/**
 * AWS adapter: an organisation sweep's progress in the flap-ledger table (a bucket name cannot contain
 * `#`, so these keys never meet a ledger item), expiring after a week:
 *
 * - `sweep#<sweepId>`: the summary — accounts and pages still pending, and the counts so far;
 * - `sweep#<sweepId>#<message id>`: one small marker per account or page message that has been counted.
 *
 * A message is counted in one transaction: the marker is created only if absent, and the summary changes
 * with it. SQS delivers at least once; a message delivered again finds its marker and adds nothing (and a
 * page is not even evaluated again). The summary item stays small however many accounts and pages there
 * are. The sweep is complete when nothing is pending; one conditional write of `completedAt` makes exactly
 * one worker report it, even when the response of the last count was lost and the SDK retried it.
 */
import { randomUUID } from 'node:crypto';
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { errorName } from '../aws-errors';
import { dynamoDbSdk } from '../sdk';

/** The counts of a sweep: what the summary shows, and what each message adds. */
export interface OrgSweepTotals {
  accounts: number;
  /** Accounts whose member role could not be assumed: one ERROR finding each. */
  unreachableAccounts: number;
  /** Accounts whose buckets could not be listed for another reason (one ERROR finding each). */
  unlistedAccounts: number;
  pages: number;
  buckets: number;
  verdicts: Record<string, number>;
  actions: Record<string, number>;
  warnings: Record<string, number>;
  retryLater: number;
  notFound: number;
  logged: number;
}

export interface OrgSweepSummary extends OrgSweepTotals {
  sweepId: string;
  durationMs: number;
}

/** Counts a message adds: numbers, and records of numbers (verdicts, actions, warnings). */
export type TotalsChange = Partial<Record<keyof OrgSweepTotals, number | Record<string, number>>>;

export interface Change {
  /** -1 for an account message, 0 for a page. */
  accountsDone: number;
  /** Pages an account message adds; -1 for a page. */
  pagesAdded: number;
  totals: TotalsChange;
}

/** What is known of a message that was counted. */
export interface Marker {
  /** An account message: the pages it announced. */
  pages?: number;
  /** An account message: its pages were all sent. */
  sent?: boolean;
}

export type CountResult = 'counted' | 'already-counted' | 'unknown-sweep';

export interface SweepProgress {
  /** `resumed`: the sweep exists already (the coordinator's invocation was retried). */
  start(sweepId: string, accounts: number): Promise<'started' | 'resumed'>;
  marker(sweepId: string, id: string): Promise<Marker | undefined>;
  /** Counts a message once, leaving its marker. */
  count(sweepId: string, id: string, change: Change, marker?: Marker): Promise<CountResult>;
  /** An account listed again (its message came back before its pages were all sent) announces another number of pages. */
  repage(sweepId: string, id: string, from: number, to: number): Promise<void>;
  markSent(sweepId: string, id: string): Promise<void>;
  /** The summary, once, to the caller that finds nothing pending first. */
  complete(sweepId: string): Promise<OrgSweepSummary | undefined>;
}

const TTL_DAYS = 7;
const summaryKey = (sweepId: string): Record<string, AttributeValue> => ({ bucket: { S: `sweep#${sweepId}` } });
const markerKey = (sweepId: string, id: string): Record<string, AttributeValue> => ({ bucket: { S: `sweep#${sweepId}#${id}` } });
/** Counter attributes are flat (`c.verdicts.COMPLIANT`): ADD cannot create a nested map's member. */
const COUNTER = 'c.';

const emptyTotals = (): OrgSweepTotals => ({ accounts: 0, unreachableAccounts: 0, unlistedAccounts: 0, pages: 0, buckets: 0, verdicts: {}, actions: {}, warnings: {}, retryLater: 0, notFound: 0, logged: 0 });

const flatten = (totals: TotalsChange): Array<[string, number]> =>
  Object.entries(totals).flatMap(([name, value]) =>
    typeof value === 'number' ? [[`${COUNTER}${name}`, value] as [string, number]]
      : Object.entries(value ?? {}).map(([sub, n]) => [`${COUNTER}${name}.${sub}`, n] as [string, number]))
    .filter(([, n]) => n !== 0);

const summaryOf = (sweepId: string, item: Record<string, AttributeValue>, now: number): OrgSweepSummary => {
  const totals = emptyTotals();
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(COUNTER) || value.N === undefined) continue;
    const [field, sub] = name.slice(COUNTER.length).split('.') as [keyof OrgSweepTotals, string | undefined];
    const slot = totals[field];
    if (sub !== undefined && typeof slot === 'object') slot[sub] = Number(value.N);
    else if (sub === undefined && typeof slot === 'number') (totals[field] as number) = Number(value.N);
  }
  return { sweepId, ...totals, durationMs: now - Number(item.startedAt?.N ?? now) };
};

/** Why a transaction was cancelled, per item (`ConditionalCheckFailed`, `None`, ...). */
const cancellations = (error: unknown): string[] =>
  ((error as { CancellationReasons?: Array<{ Code?: string }> }).CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');

export const createSweepProgress = (dynamodb: () => DynamoDBClient, table: string, now: () => number = Date.now): SweepProgress => {
  const expires = (): AttributeValue => ({ N: String(Math.floor(now() / 1000) + TTL_DAYS * 86_400) });
  return {
    async start(sweepId, accounts) {
      try {
        await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
          TableName: table,
          Key: summaryKey(sweepId),
          UpdateExpression: 'SET pendingAccounts = :accounts, pendingPages = :zero, startedAt = :now, expiresAt = :expires, #accounts = :accounts',
          ConditionExpression: 'attribute_not_exists(startedAt)',
          ExpressionAttributeNames: { '#accounts': `${COUNTER}accounts` },
          ExpressionAttributeValues: { ':accounts': { N: String(accounts) }, ':zero': { N: '0' }, ':now': { N: String(now()) }, ':expires': expires() },
        }));
        return 'started';
      } catch (error) {
        if (errorName(error) === 'ConditionalCheckFailedException') return 'resumed';
        throw error;
      }
    },

    async marker(sweepId, id) {
      const { Item } = await dynamodb().send(new (dynamoDbSdk().GetItemCommand)({ TableName: table, Key: markerKey(sweepId, id), ConsistentRead: true }));
      if (!Item) return undefined;
      return { ...(Item.pages?.N !== undefined ? { pages: Number(Item.pages.N) } : {}), ...(Item.sent?.BOOL ? { sent: true } : {}) };
    },

    async count(sweepId, id, { accountsDone, pagesAdded, totals }, marker = {}) {
      const names: Record<string, string> = {};
      const values: Record<string, AttributeValue> = { ':accounts': { N: String(accountsDone) }, ':pages': { N: String(pagesAdded) } };
      const adds = ['pendingAccounts :accounts', 'pendingPages :pages'];
      flatten(totals).forEach(([name, n], index) => {
        names[`#c${index}`] = name;
        values[`:c${index}`] = { N: String(n) };
        adds.push(`#c${index} :c${index}`);
      });
      const item: Record<string, AttributeValue> = {
        ...markerKey(sweepId, id), expiresAt: expires(),
        ...(marker.pages !== undefined ? { pages: { N: String(marker.pages) } } : {}), ...(marker.sent ? { sent: { BOOL: true } } : {}),
      };
      try {
        await dynamodb().send(new (dynamoDbSdk().TransactWriteItemsCommand)({
          TransactItems: [
            { Put: { TableName: table, Item: item, ConditionExpression: 'attribute_not_exists(#key)', ExpressionAttributeNames: { '#key': 'bucket' } } },
            {
              Update: {
                TableName: table, Key: summaryKey(sweepId), UpdateExpression: `ADD ${adds.join(', ')}`, ConditionExpression: 'attribute_exists(startedAt)',
                ...(Object.keys(names).length > 0 ? { ExpressionAttributeNames: names } : {}), ExpressionAttributeValues: values,
              },
            },
          ],
        }));
        return 'counted';
      } catch (error) {
        if (errorName(error) !== 'TransactionCanceledException') throw error;
        const [markerReason, summaryReason] = cancellations(error);
        // The marker exists: this message was counted before (its SDK retry included).
        if (markerReason === 'ConditionalCheckFailed') return 'already-counted';
        if (summaryReason === 'ConditionalCheckFailed') return 'unknown-sweep';
        throw error;
      }
    },

    async repage(sweepId, id, from, to) {
      await dynamodb().send(new (dynamoDbSdk().TransactWriteItemsCommand)({
        TransactItems: [
          { Update: { TableName: table, Key: markerKey(sweepId, id), UpdateExpression: 'SET pages = :to', ConditionExpression: 'pages = :from', ExpressionAttributeValues: { ':from': { N: String(from) }, ':to': { N: String(to) } } } },
          { Update: { TableName: table, Key: summaryKey(sweepId), UpdateExpression: 'ADD pendingPages :delta', ExpressionAttributeValues: { ':delta': { N: String(to - from) } } } },
        ],
      }));
    },

    async markSent(sweepId, id) {
      await dynamodb().send(new (dynamoDbSdk().UpdateItemCommand)({
        TableName: table, Key: markerKey(sweepId, id), UpdateExpression: 'SET sent = :sent', ExpressionAttributeValues: { ':sent': { BOOL: true } },
      }));
    },

    async complete(sweepId) {
      const { GetItemCommand, UpdateItemCommand } = dynamoDbSdk();
      const { Item } = await dynamodb().send(new GetItemCommand({ TableName: table, Key: summaryKey(sweepId), ConsistentRead: true }));
      if (!Item || Item.completedAt || Item.pendingAccounts?.N !== '0' || Item.pendingPages?.N !== '0') return undefined;
      // This caller's own token: an SDK retry of a write that landed still finds it its own.
      const token = { S: randomUUID() };
      try {
        await dynamodb().send(new UpdateItemCommand({
          TableName: table, Key: summaryKey(sweepId), UpdateExpression: 'SET completedAt = :now, completedBy = :token',
          ConditionExpression: '(attribute_not_exists(completedAt) OR completedBy = :token) AND pendingAccounts = :zero AND pendingPages = :zero',
          ExpressionAttributeValues: { ':now': { N: String(now()) }, ':zero': { N: '0' }, ':token': token },
        }));
      } catch (error) {
        if (errorName(error) === 'ConditionalCheckFailedException') return undefined; // another worker reports it
        throw error;
      }
      return summaryOf(sweepId, Item, now());
    },
  };
};
