/**
 * AWS adapter: the sweep's work queue. Messages go out in SendMessageBatch calls of at most 10 entries and
 * under 200 KB (SQS's batch limits are 10 entries and 256 KB); an entry SQS refuses fails the whole send, so the
 * message that produced them is delivered again rather than leaving a gap.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import { batchesWithin } from '../batches';
import { sqsSdk } from '../sdk';
import type { SweepMessage } from './sweep-messages';

const MAX_ENTRIES = 10;
const MAX_BATCH_BYTES = 200_000;

/** Batches in order, each within SQS's limits. */
export const batchesOf = (bodies: readonly string[]): string[][] =>
  batchesWithin(bodies, (body) => Buffer.byteLength(body), { maxItems: MAX_ENTRIES, maxBytes: MAX_BATCH_BYTES });

export const sweepQueueSender = (sqs: () => SQSClient, queueName: string): ((messages: readonly SweepMessage[]) => Promise<void>) => {
  let url: Promise<string> | undefined;
  return async (messages) => {
    if (messages.length === 0) return;
    const { GetQueueUrlCommand, SendMessageBatchCommand } = sqsSdk();
    url ??= sqs().send(new GetQueueUrlCommand({ QueueName: queueName })).then(({ QueueUrl }) => {
      if (!QueueUrl) throw new Error(`GetQueueUrl returned no URL for ${queueName}`);
      return QueueUrl;
    });
    url.catch(() => { url = undefined; });
    const queueUrl = await url;
    for (const batch of batchesOf(messages.map((message) => JSON.stringify(message)))) {
      const { Failed } = await sqs().send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: batch.map((body, index) => ({ Id: String(index), MessageBody: body })) }));
      if (Failed && Failed.length > 0) throw new Error(`the sweep queue refused ${Failed.length} message(s): ${Failed[0]?.Code ?? ''} ${Failed[0]?.Message ?? ''}`.trim());
    }
  };
};
