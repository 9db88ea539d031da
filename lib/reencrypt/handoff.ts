/**
 * The hand-over from the bucket path (event and sweep) to the re-keying queue: a bucket in a KMS mode whose
 * default rule is compliant now (found so, or just remediated). Best effort: a failed hand-over is logged and
 * the next sweep hands the bucket over again — it never fails the bucket's own evaluation.
 */
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { GuardConfig } from '../config';
import type { Finding } from '../finding';
import { sqsSdk } from '../sdk';
import { hasObjectsToRekey } from './coverage';
import { deduplicationId, firstMessage, type ReencryptMessage } from './message';

export type HandOff = (finding: Finding) => Promise<void>;

export const shouldHandOff = (finding: Pick<Finding, 'mode' | 'verdict' | 'action'>, config: Pick<GuardConfig, 'reencrypt'>): boolean =>
  config.reencrypt.objects !== 'off' && hasObjectsToRekey(finding.mode)
  && ((finding.verdict === 'COMPLIANT' && finding.action === 'NONE') || finding.action === 'REMEDIATED');

/** Sends a message to the FIFO queue: one message group per bucket, so a bucket's pages run one at a time. */
export const sendReencryptMessage = async (sqs: SQSClient, queueUrl: string, message: ReencryptMessage): Promise<void> => {
  await sqs.send(new (sqsSdk().SendMessageCommand)({
    QueueUrl: queueUrl, MessageBody: JSON.stringify(message), MessageGroupId: message.bucket, MessageDeduplicationId: deduplicationId(message),
  }));
};

/**
 * A sender to the queue named `queueName` (a name, not a URL: `serverless invoke local` cannot resolve a Ref);
 * its URL is asked once per container (GetQueueUrl), again only after a failure.
 */
export const queueSender = (sqs: () => SQSClient, queueName: string): ((message: ReencryptMessage) => Promise<void>) => {
  let url: Promise<string> | undefined;
  return async (message) => {
    url ??= sqs().send(new (sqsSdk().GetQueueUrlCommand)({ QueueName: queueName, QueueOwnerAWSAccountId: message.accountId })).then(({ QueueUrl }) => {
      if (!QueueUrl) throw new Error(`GetQueueUrl returned no URL for ${queueName}`);
      return QueueUrl;
    });
    url.catch(() => { url = undefined; });
    await sendReencryptMessage(sqs(), await url, message);
  };
};

export const createHandOff = (
  config: Pick<GuardConfig, 'reencrypt'>, send: (message: ReencryptMessage) => Promise<void>, warn: (message: string, details: Record<string, unknown>) => void, now: () => number = Date.now,
): HandOff => async (finding) => {
  if (!shouldHandOff(finding, config)) return;
  try {
    await send(firstMessage(finding, now()));
  } catch (error) {
    warn('bucket not handed to the re-keying queue; the next sweep will', { bucket: finding.bucket, error: error instanceof Error ? error : String(error) });
  }
};
