/**
 * AWS adapter: an organisation sweep's progress, one item in the flap-ledger table under the key
 * `sweep#<sweepId>` (a bucket name cannot contain `#`). The coordinator sets how many accounts are pending;
 * each account message adds its pages, each page message subtracts itself and adds its counts — all in one
 * conditional UpdateItem that also records the message's id, so a redelivered message counts once. The
 * update that brings both pending counts to zero is the one that reports the sweep completed.
 *
 * Size: each account and page adds about 25 bytes to the item (400 KB limit), so one sweep can account for
 * about 15,000 accounts and pages together; the README says so.
 */
import type { AttributeValue, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { errorName } from '../aws-errors';
import { dynamoDbSdk } from '../sdk';

/** The counts of a sweep: what the summary shows, and what each message adds. */
export interface OrgSweepTotals {
  accounts: number;
  /** Accounts whose member role could not be assumed: one ERROR finding each. */
  unreachableAccounts: number;
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

export type ProgressResult =
  | { status: 'pending' }
  | { status: 'completed'; summary: OrgSweepSummary }
  /** The message was already counted (a redelivery), or its sweep is unknown (expired): nothing added. */
  | { status: 'skipped'; reason: string };

/** Counts a message adds: numbers, and records of numbers (verdicts, actions, warnings). */
export type TotalsChange = Partial<Record<keyof OrgSweepTotals, number | Record<string, number>>>;

export interface SweepProgress {
  start(sweepId: string, accounts: number): Promise<void>;
  /** Accounts one message: `accountsDone` (-1 for an account message), `pagesAdded` (+pages listed, -1 for a page). */
  record(sweepId: string, id: string, change: { accountsDone: number; pagesAdded: number; totals: TotalsChange }): Promise<ProgressResult>;
}

/** Progress items outlive any sweep by far, then expire (the table's TTL). */
const TTL_DAYS = 7;
const key = (sweepId: string): Record<string, AttributeValue> => ({ bucket: { S: `sweep#${sweepId}` } });
/** Counter attributes are flat (`c.verdicts.COMPLIANT`): ADD cannot create a nested map's member. */
const COUNTER = 'c.';

const flatten = (totals: TotalsChange): Array<[string, number]> =>
  Object.entries(totals).flatMap(([name, value]) =>
    typeof value === 'number' ? [[`${COUNTER}${name}`, value] as [string, number]]
      : Object.entries(value ?? {}).map(([sub, n]) => [`${COUNTER}${name}.${sub}`, n] as [string, number]))
    .filter(([, n]) => n !== 0);

const summaryOf = (sweepId: string, item: Record<string, AttributeValue>, now: number): OrgSweepSummary => {
  const totals: OrgSweepTotals = { accounts: 0, unreachableAccounts: 0, pages: 0, buckets: 0, verdicts: {}, actions: {}, warnings: {}, retryLater: 0, notFound: 0, logged: 0 };
  for (const [name, value] of Object.entries(item)) {
    if (!name.startsWith(COUNTER) || value.N === undefined) continue;
    const [field, sub] = name.slice(COUNTER.length).split('.') as [keyof OrgSweepTotals, string | undefined];
    const n = Number(value.N);
    const slot = totals[field];
    if (sub !== undefined && typeof slot === 'object') slot[sub] = n;
    else if (sub === undefined && typeof slot === 'number') (totals[field] as number) = n;
  }
  return { sweepId, ...totals, durationMs: now - Number(item.startedAt?.N ?? now) };
};

export const createSweepProgress = (dynamodb: () => DynamoDBClient, table: string, now: () => number = Date.now): SweepProgress => ({
  async start(sweepId, accounts) {
    const { UpdateItemCommand } = dynamoDbSdk();
    await dynamodb().send(new UpdateItemCommand({
      TableName: table,
      Key: key(sweepId),
      UpdateExpression: 'SET pendingAccounts = :accounts, pendingPages = :zero, startedAt = :now, expiresAt = :expires, #accounts = :accounts',
      ConditionExpression: 'attribute_not_exists(startedAt)',
      ExpressionAttributeNames: { '#accounts': `${COUNTER}accounts` },
      ExpressionAttributeValues: {
        ':accounts': { N: String(accounts) }, ':zero': { N: '0' }, ':now': { N: String(now()) },
        ':expires': { N: String(Math.floor(now() / 1000) + TTL_DAYS * 86_400) },
      },
    }));
  },
  async record(sweepId, id, { accountsDone, pagesAdded, totals }) {
    const { UpdateItemCommand } = dynamoDbSdk();
    const counters = flatten(totals);
    const names: Record<string, string> = { '#done': 'done' };
    const values: Record<string, AttributeValue> = { ':id': { S: id }, ':ids': { SS: [id] }, ':accounts': { N: String(accountsDone) }, ':pages': { N: String(pagesAdded) } };
    const adds = ['#done :ids', 'pendingAccounts :accounts', 'pendingPages :pages'];
    counters.forEach(([name, n], index) => {
      names[`#c${index}`] = name;
      values[`:c${index}`] = { N: String(n) };
      adds.push(`#c${index} :c${index}`);
    });
    try {
      const { Attributes } = await dynamodb().send(new UpdateItemCommand({
        TableName: table,
        Key: key(sweepId),
        UpdateExpression: `ADD ${adds.join(', ')}`,
        ConditionExpression: 'attribute_exists(startedAt) AND NOT contains(#done, :id)',
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
        ReturnValues: 'ALL_NEW',
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      }));
      const item = Attributes ?? {};
      // Pages may finish before their account's message is counted (pendingPages below zero meanwhile).
      return item.pendingAccounts?.N === '0' && item.pendingPages?.N === '0' ? { status: 'completed', summary: summaryOf(sweepId, item, now()) } : { status: 'pending' };
    } catch (error) {
      if (errorName(error) !== 'ConditionalCheckFailedException') throw error;
      const old = (error as { Item?: Record<string, AttributeValue> }).Item;
      return { status: 'skipped', reason: old?.startedAt ? `${id} was already counted (a redelivered message)` : `sweep ${sweepId} is unknown or expired` };
    }
  },
});
