/**
 * `reencryptObjects`: the re-keying queue (SQS FIFO, one message group per bucket). Each message is one
 * listing page of one bucket (lib/reencrypt/run.ts); a page with more after it sends the next message.
 * A message that fails transiently goes back to the queue (partial batch response; later pages of its
 * bucket wait, other buckets go on).
 */
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createGuard, type Guard } from '../lib/guard';
import { createJob, describeJob, guardJobs } from '../lib/reencrypt/batch-operations';
import { jobOutcome } from '../lib/reencrypt/batch-plan';
import { queueSender } from '../lib/reencrypt/handoff';
import { parseMessage, type ReencryptMessage } from '../lib/reencrypt/message';
import { PAGE_SIZE } from '../lib/reencrypt/objects';
import { countPage, logReencryption, type ReencryptFinding } from '../lib/reencrypt/report';
import { type ReencryptDeps, runReencryptMessage } from '../lib/reencrypt/run';
import { flushMetrics, logger } from '../lib/telemetry';

/** Objects read or re-keyed at once per page: well under S3's per-prefix request rates. */
export const REENCRYPT_CONCURRENCY = 32;

export interface ReencryptRuntime {
  /** Objects per page and message (default 1000). */
  pageSize?: number;
  /** Sends the next page's message. */
  enqueue: (message: ReencryptMessage) => Promise<void>;
  finding: (finding: ReencryptFinding) => void;
  ignored: (reason: string) => void;
  batch: Pick<ReencryptDeps['batch'], 'stack'>;
}

export const reencryptDeps = (guard: Guard, runtime: Pick<ReencryptRuntime, 'enqueue' | 'batch' | 'pageSize'>, requestId: string): ReencryptDeps => ({
  config: guard.config,
  homeRegion: guard.homeRegion,
  s3: guard.s3,
  // The write path's fresh check: KMS is asked, never the cache (a key disabled a minute ago must stop the re-keying now).
  describeKeyFresh: (keyArn, region) => guard.describeKey(keyArn, region, { fresh: true }),
  concurrency: REENCRYPT_CONCURRENCY,
  pageSize: runtime.pageSize ?? PAGE_SIZE,
  enqueue: runtime.enqueue,
  requestId,
  now: Date.now,
  batch: {
    ...runtime.batch,
    createJob: (region, plan) => createJob(guard.s3control(region), plan),
    jobsFor: async (region, accountId, bucket) => (await guardJobs(guard.s3control(region), accountId))
      .filter((job) => job.bucket === bucket)
      .sort((a, b) => (b.CreationTime?.getTime() ?? 0) - (a.CreationTime?.getTime() ?? 0))
      .map((job) => ({
        jobId: job.JobId!, keyArn: job.keyArn, ...(job.Status ? { status: job.Status } : {}),
        ...(job.CreationTime ? { createdAt: job.CreationTime.getTime() } : {}), ...(job.TerminationDate ? { endedAt: job.TerminationDate.getTime() } : {}),
      })),
    describe: async (region, accountId, jobId) => jobOutcome(await describeJob(guard.s3control(region), accountId, jobId)),
  },
});

export const createReencryptHandler = (guard: Guard, runtime: ReencryptRuntime) =>
  async (event: SQSEvent, context?: Partial<Context>): Promise<SQSBatchResponse> => {
    try {
      const processor = new SqsFifoPartialProcessorAsync();
      return await processPartialResponse(event, async (record: SQSRecord) => {
        const message = parseMessage(record.body);
        if (!message) {
          runtime.ignored(`SQS message ${record.messageId} is not a re-keying message`);
          return;
        }
        // The queue is this account's: a message naming another account is not acted on (no AWS call for it).
        const { accountId } = await guard.identityOf(context);
        if (message.accountId !== accountId) {
          runtime.ignored(`SQS message ${record.messageId} names account ${message.accountId}, not this function's account ${accountId}`);
          return;
        }
        const result = await runReencryptMessage(message, reencryptDeps(guard, runtime, record.messageId));
        if (result.status === 'continued') countPage(result.before, result.next.tally);
        else {
          if (result.finding.tally) countPage(result.before, result.finding.tally);
          runtime.finding(result.finding);
        }
      }, processor, { context: context as Context, skipGroupOnError: true });
    } finally {
      flushMetrics();
    }
  };

const lambdaHandler = () => {
  const guard = createGuard();
  const { REENCRYPT_QUEUE_NAME = '', REENCRYPT_BATCH_ROLE_NAME, REENCRYPT_REPORT_BUCKET_PREFIX } = process.env;
  return createReencryptHandler(guard, {
    enqueue: queueSender(() => guard.sqs(guard.homeRegion), REENCRYPT_QUEUE_NAME),
    finding: logReencryption,
    ignored: (reason) => logger.info('message ignored', { reason }),
    batch: REENCRYPT_BATCH_ROLE_NAME && REENCRYPT_REPORT_BUCKET_PREFIX ? { stack: { roleName: REENCRYPT_BATCH_ROLE_NAME, reportBucketPrefix: REENCRYPT_REPORT_BUCKET_PREFIX } } : {},
  });
};

export const handler = lambdaHandler();
