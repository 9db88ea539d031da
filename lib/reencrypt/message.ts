/**
 * The re-keying queue's messages: one per bucket and listing page. The first names only the bucket; each
 * page hands the next its cursor and the totals so far. Messages round-trip through SQS: parsed field by field.
 */
import { createHash } from 'node:crypto';
import type { Finding, Trigger } from '../finding';
import { isObject } from '../json';
import { emptyTally, type Tally } from './estimate';
import type { PageCursor } from './objects';
import type { FailedObject } from './rekey-page';

export interface ReencryptMessage {
  bucket: string;
  region: string;
  accountId: string;
  trigger: Trigger;
  /** When the pass over the bucket started (ms). */
  startedAt: number;
  /** Absent on the first page. */
  cursor?: PageCursor;
  pages: number;
  tally: Tally;
  failedObjects: FailedObject[];
}

export const firstMessage = (finding: Pick<Finding, 'bucket' | 'region' | 'account' | 'trigger'>, now: number): ReencryptMessage => ({
  bucket: finding.bucket, region: finding.region, accountId: finding.account, trigger: finding.trigger, startedAt: now, pages: 0, tally: emptyTally(), failedObjects: [],
});

const BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const REGION = /^[a-z]{2}(-[a-z]+)+-\d$/;

const isCursor = (value: unknown): value is PageCursor =>
  isObject(value) && (typeof value.continuationToken === 'string'
    || (typeof value.keyMarker === 'string' && (value.versionIdMarker === undefined || typeof value.versionIdMarker === 'string')));

export const parseMessage = (body: string): ReencryptMessage | undefined => {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (!isObject(value) || !isObject(value.tally) || !isObject(value.trigger) || !Array.isArray(value.failedObjects)) return undefined;
  const { bucket, region, accountId, startedAt, pages, cursor } = value;
  if (typeof bucket !== 'string' || !BUCKET.test(bucket) || typeof region !== 'string' || !REGION.test(region)) return undefined;
  if (typeof accountId !== 'string' || !/^\d{12}$/.test(accountId) || typeof startedAt !== 'number' || !Number.isInteger(pages)) return undefined;
  if (cursor !== undefined && !isCursor(cursor)) return undefined;
  return { ...emptyTallyDefaults(value as unknown as ReencryptMessage) };
};

/** Older or partial totals get the fields they lack. */
const emptyTallyDefaults = (message: ReencryptMessage): ReencryptMessage => ({ ...message, tally: { ...emptyTally(), ...message.tally } });

/**
 * FIFO de-duplication: a bucket's start is named by the bucket and the UTC day, so the same bucket handed
 * over twice within SQS's five-minute deduplication interval (event and sweep, a redelivered event) starts
 * one pass; a page's continuation is sent once. SQS forgets an id after five minutes
 * (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-key-terms.html):
 * hand-overs further apart each start a pass, which is why a report pass stops after its sample.
 */
export const deduplicationId = (message: ReencryptMessage): string =>
  createHash('sha256').update(message.cursor
    ? `${message.bucket}\n${message.startedAt}\n${JSON.stringify(message.cursor)}`
    : `${message.bucket}\nstart\n${new Date(message.startedAt).toISOString().slice(0, 10)}`).digest('hex');
