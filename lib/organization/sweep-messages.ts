/**
 * The hub's sweep as SQS messages (pure): one per account — list its buckets — and one per page of an
 * account's buckets — evaluate them. Lambda's SQS scaling then spreads an organisation's sweep over as
 * many concurrent runs as there are messages, and no run ever continues itself (no Lambda-to-Lambda chain
 * for recursive-loop detection to cut). Messages are checked field by field: they are input.
 */
import { isObject } from '../json';

export interface AccountMessage {
  kind: 'account';
  sweepId: string;
  account: string;
}

export interface PageMessage {
  kind: 'page';
  sweepId: string;
  account: string;
  /** The page's position in the account's listing: with the account, the page's identity in the progress item. */
  page: number;
  buckets: Array<{ name: string; region?: string }>;
}

export type SweepMessage = AccountMessage | PageMessage;

const SWEEP_ID = /^[\w-]{1,64}$/;
const ACCOUNT = /^\d{12}$/;
const BUCKET = /^[A-Za-z0-9._-]{3,255}$/;
const REGION = /^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/;
/** Buckets per page message at most, whatever sweepPageSize says: about 100 KB, within SQS's 256 KB. */
export const PAGE_MESSAGE_MAX_BUCKETS = 1000;

/** The identity of what a message accounts for, once, in the sweep's progress. */
export const progressId = (message: SweepMessage): string =>
  message.kind === 'account' ? `account:${message.account}` : `page:${message.account}:${message.page}`;

export const parseSweepMessage = (body: string): SweepMessage | string => {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return 'not JSON';
  }
  if (!isObject(value)) return 'not an object';
  const { kind, sweepId, account } = value;
  if (typeof sweepId !== 'string' || !SWEEP_ID.test(sweepId)) return 'no valid sweepId';
  if (typeof account !== 'string' || !ACCOUNT.test(account)) return 'no valid account';
  if (kind === 'account') return { kind, sweepId, account };
  if (kind !== 'page') return `unknown kind ${JSON.stringify(kind)}`;
  const { page, buckets } = value;
  if (!Number.isInteger(page) || (page as number) < 0) return 'no valid page number';
  if (!Array.isArray(buckets) || buckets.length === 0 || buckets.length > PAGE_MESSAGE_MAX_BUCKETS) return 'no valid bucket list';
  const parsed: PageMessage['buckets'] = [];
  for (const bucket of buckets) {
    if (!isObject(bucket) || typeof bucket.name !== 'string' || !BUCKET.test(bucket.name)) return 'a bucket without a valid name';
    if (bucket.region !== undefined && (typeof bucket.region !== 'string' || !REGION.test(bucket.region))) return `bucket ${bucket.name} has no valid region`;
    parsed.push({ name: bucket.name, ...(typeof bucket.region === 'string' ? { region: bucket.region } : {}) });
  }
  return { kind, sweepId, account, page: page as number, buckets: parsed };
};
