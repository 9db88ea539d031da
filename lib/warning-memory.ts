/**
 * The sweep's memory of each bucket's warning codes, so that a daily sweep logs a compliant bucket only
 * when its warnings changed (README, "The sweep"). Kept in the stack's flap-ledger table under keys
 * `warnings#<bucket>` (a bucket name cannot contain `#`, so they never meet a ledger item), expiring
 * after MEMORY_TTL_DAYS. Cost: one BatchGetItem per 100 buckets, and one BatchWriteItem per 25 buckets
 * whose warnings changed. Whatever cannot be read counts as changed (the bucket is logged), and a write
 * that fails only means the bucket is logged again next time: the memory can make the sweep say more,
 * never less.
 */
import type { AttributeValue, BatchGetItemCommandOutput, DynamoDBClient, WriteRequest } from '@aws-sdk/client-dynamodb';
import { errorMessage, errorName } from './aws-errors';
import { dynamoDbSdk } from './sdk';

export interface WarningMemory {
  /** The codes last remembered per bucket (`''`: none); buckets missing from the map are unknown. */
  recall(buckets: readonly string[]): Promise<Map<string, string>>;
  /** Remembers each bucket's codes (`''` forgets the bucket). */
  remember(codes: ReadonlyMap<string, string>): Promise<void>;
}

export const MEMORY_TTL_DAYS = 35;
const KEY_PREFIX = 'warnings#';
const GET_BATCH = 100;
const WRITE_BATCH = 25;
/** Rounds for unprocessed keys/items (DynamoDB throttling a batch); what is left after them is skipped. */
const ROUNDS = 3;

const chunks = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, index) => items.slice(index * size, (index + 1) * size));

const keyOf = (bucket: string): Record<string, AttributeValue> => ({ bucket: { S: `${KEY_PREFIX}${bucket}` } });

export const createWarningMemory = (
  dynamodb: () => DynamoDBClient,
  table: string,
  onProblem: (message: string) => void,
  now: () => number = Date.now,
): WarningMemory => {
  const problem = (what: string, error: unknown): void =>
    onProblem(`warning memory ${what} failed (${errorName(error)}: ${errorMessage(error)}): compliant buckets with warnings are logged`);
  return {
    async recall(buckets) {
      const found = new Map<string, string>();
      const unread = new Set<string>();
      const sdk = dynamoDbSdk();
      try {
        for (const batch of chunks(buckets, GET_BATCH)) {
          let keys: Array<Record<string, AttributeValue>> | undefined = batch.map(keyOf);
          for (let round = 0; keys?.length && round < ROUNDS; round++) {
            const response: BatchGetItemCommandOutput = await dynamodb().send(new sdk.BatchGetItemCommand({
              // `bucket` is a DynamoDB reserved word.
              RequestItems: { [table]: { Keys: keys, ProjectionExpression: '#b, codes', ExpressionAttributeNames: { '#b': 'bucket' } } },
            }));
            for (const item of response.Responses?.[table] ?? []) {
              const key = item.bucket?.S;
              if (key?.startsWith(KEY_PREFIX)) found.set(key.slice(KEY_PREFIX.length), item.codes?.S ?? '');
            }
            keys = response.UnprocessedKeys?.[table]?.Keys;
          }
          for (const key of keys ?? []) unread.add(key.bucket?.S?.slice(KEY_PREFIX.length) ?? '');
        }
        // A bucket with no item was remembered with no warnings (or never seen: then its warnings are new).
        for (const bucket of buckets) if (!found.has(bucket) && !unread.has(bucket)) found.set(bucket, '');
        return found;
      } catch (error) {
        problem('read', error);
        return new Map();
      }
    },
    async remember(codes) {
      const expiresAt = Math.floor(now() / 1000) + MEMORY_TTL_DAYS * 86_400;
      const requests: WriteRequest[] = [...codes].map(([bucket, text]) => (text
        ? { PutRequest: { Item: { ...keyOf(bucket), codes: { S: text }, expiresAt: { N: String(expiresAt) } } } }
        : { DeleteRequest: { Key: keyOf(bucket) } }));
      const sdk = dynamoDbSdk();
      try {
        for (const batch of chunks(requests, WRITE_BATCH)) {
          let pending: WriteRequest[] | undefined = batch;
          for (let round = 0; pending?.length && round < ROUNDS; round++) {
            const { UnprocessedItems }: { UnprocessedItems?: Record<string, WriteRequest[]> } = await dynamodb().send(new sdk.BatchWriteItemCommand({ RequestItems: { [table]: pending } }));
            pending = UnprocessedItems?.[table];
          }
        }
      } catch (error) {
        problem('write', error);
      }
    },
  };
};
