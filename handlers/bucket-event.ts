/**
 * `enforceBucket`: CloudTrail events about buckets, from the settle queue (SQS batch, partial-batch
 * failures) or as a bare EventBridge event (`serverless invoke local -p events/<name>.json`).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { type ParsedEvent, parseBucketEvent } from '../lib/cloudtrail-event';
import { enforceBucket } from '../lib/enforce';
import type { Finding } from '../lib/finding';
import { createGuard, type Guard } from '../lib/guard';
import { deployedSink, type FindingSink, logger } from '../lib/telemetry';

export interface BareEventResult {
  finding?: Finding;
  ignored?: string;
}

const isSqsEvent = (event: unknown): event is SQSEvent =>
  typeof event === 'object' && event !== null && Array.isArray((event as SQSEvent).Records)
  && (event as SQSEvent).Records.every((record) => record?.eventSource === 'aws:sqs');

const parseBody = (record: SQSRecord): unknown => {
  try {
    return JSON.parse(record.body);
  } catch {
    return undefined;
  }
};

export const createBucketEventHandler = (guard: Guard, sink: FindingSink) => {
  return async (event: unknown, context?: Partial<Context>): Promise<SQSBatchResponse | BareEventResult> => {
    const accountId = await guard.accountOf(context);
    // Events of one batch about the same bucket (CreateBucket, then tagging, ...) are evaluated once.
    const inFlight = new Map<string, Promise<Finding>>();
    const handle = async (parsed: ParsedEvent): Promise<BareEventResult> => {
      if (!parsed.ok) {
        sink.ignored(parsed.reason, parsed.eventId);
        return { ignored: parsed.reason };
      }
      const { trigger } = parsed;
      let evaluation = inFlight.get(trigger.bucket);
      if (!evaluation) {
        evaluation = enforceBucket({
          bucket: trigger.bucket,
          region: trigger.region,
          accountId,
          trigger: { type: 'event', eventName: trigger.eventName, ...(trigger.eventId ? { eventId: trigger.eventId } : {}), ...(trigger.actor ? { actor: trigger.actor } : {}) },
        }, guard).then(async (finding) => {
          sink.finding(finding);
          await guard.handOff?.(finding); // a compliant KMS-mode bucket's objects: lib/reencrypt/
          return finding;
        }, (error: unknown) => {
          sink.retrying(trigger.bucket, error);
          throw error;
        });
        inFlight.set(trigger.bucket, evaluation);
      }
      return { finding: await evaluation };
    };

    try {
      if (isSqsEvent(event)) {
        const processor = new BatchProcessor(EventType.SQS);
        return await processPartialResponse(event, async (record: SQSRecord) => {
          const body = parseBody(record);
          if (body === undefined) {
            sink.ignored(`SQS message ${record.messageId} is not a JSON event`);
            return;
          }
          await handle(parseBucketEvent(body, accountId));
        }, processor, { context: context as Context });
      }
      return await handle(parseBucketEvent(event, accountId));
    } finally {
      await sink.flush();
    }
  };
};

const lambdaHandler = (): ((event: unknown, context?: Partial<Context>) => Promise<SQSBatchResponse | BareEventResult>) => {
  const guard = createGuard();
  const run = createBucketEventHandler(guard, deployedSink(() => guard.events(guard.homeRegion)));
  return (event, context) => {
    if (context?.awsRequestId) logger.addContext(context as Context);
    return run(event, context);
  };
};

export const handler = lambdaHandler();
