/**
 * `enforceBucket`: CloudTrail events about buckets, from the settle queue (SQS batch, partial-batch
 * failures) or as a bare EventBridge event (`serverless invoke local -p events/<name>.json`).
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { explainCredentials } from '../lib/credentials-hint';
import { isTransient } from '../lib/aws-errors';
import { type BucketTrigger, type ParsedEvent, parseBucketEvent } from '../lib/cloudtrail-event';
import { enforceBucket, type Outcome } from '../lib/enforce';
import type { Finding } from '../lib/finding';
import { createGuard, type Guard } from '../lib/guard';
import type { Identity } from '../lib/account';
import { enforceThrough, hubFactory, type Hub } from '../lib/organization/hub';
import { deployedSink, type FindingSink, logger } from '../lib/telemetry';

export interface BareEventResult {
  finding?: Finding;
  ignored?: string;
  /** The bucket was not evaluated: a duplicate delivery, or a bucket that does not exist. */
  notEvaluated?: string;
}

/** A finding that stands, for a bucket worth another look: the queue delivers the event again later. */
export class RetryLaterError extends Error {
  constructor(bucket: string, reason: string) {
    super(`${bucket}: ${reason}; the event will be delivered again`);
    this.name = 'RetryLaterError';
  }
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

/** organization=hub: the hub for the function's own identity (created once per container). */
export type HubOf = (identity: Identity) => Hub;

export const createBucketEventHandler = (guard: Guard, sink: FindingSink, hubOf?: HubOf) => {
  return async (event: unknown, context?: Partial<Context>): Promise<SQSBatchResponse | BareEventResult> => {
    const identity = await guard.identityOf(context).catch((error: unknown) => { throw explainCredentials(error); });
    const { accountId, partition } = identity;
    const hub = hubOf?.(identity);
    // Events of one batch about the same bucket (CreateBucket, then tagging, ...) are evaluated once.
    const inFlight = new Map<string, Promise<Outcome>>();
    /** Errors that are not AWS's passing faults: the guard itself broke, and the invocation fails loudly. */
    const broken: unknown[] = [];
    const evaluate = async (event: BucketTrigger): Promise<Outcome> => {
      const trigger = {
        type: 'event' as const, eventName: event.eventName,
        ...(event.eventId ? { eventId: event.eventId } : {}), ...(event.actor ? { actor: event.actor } : {}), ...(event.eventTime ? { eventTime: event.eventTime } : {}),
      };
      try {
        const request = { bucket: event.bucket, region: event.region, accountId: event.account, partition, trigger };
        // The hub acts through the account's member role; a single-account guard as itself.
        const outcome = hub ? await enforceThrough(hub, request) : await enforceBucket(request, guard);
        if (outcome.kind !== 'finding') {
          sink.notEvaluated(outcome.kind === 'gone' ? { ...outcome, trigger } : outcome);
          return outcome;
        }
        sink.finding(outcome.finding);
        await guard.handOff?.(outcome.finding); // a compliant KMS-mode bucket's objects: lib/reencrypt/
        return outcome;
      } catch (error) {
        if (isTransient(error)) sink.retrying(event.bucket, error);
        else broken.push(error);
        throw error;
      }
    };
    const handle = async (parsed: ParsedEvent): Promise<BareEventResult> => {
      if (!parsed.ok) {
        sink.ignored(parsed.reason, parsed.eventId);
        return { ignored: parsed.reason };
      }
      const { trigger: event } = parsed;
      // The hub: an event of an account outside its scope only ever gets a reason, never a role assumed.
      const scope = await hub?.scope.check(event.account).catch((error: unknown) => {
        // The organisation's account list unreadable (the hub is not its delegated administrator): the
        // guard's set-up is broken, which the Errors alarm must say, not a dead-letter queue alone.
        if (!isTransient(error)) broken.push(error);
        throw error;
      });
      if (scope && !scope.ok) {
        sink.ignored(scope.reason, event.eventId);
        return { ignored: scope.reason };
      }
      // By account too: in the hub, two accounts' events may name one bucket name (deleted and made again).
      const key = `${event.account}/${event.bucket}`;
      let evaluation = inFlight.get(key);
      if (!evaluation) {
        evaluation = evaluate(event);
        inFlight.set(key, evaluation);
      }
      let outcome = await evaluation;
      // The batch's shared evaluation was another delivery's duplicate: this record's own, different event
      // (a later downgrade, say) still needs its evaluation.
      if (outcome.kind === 'duplicate' && event.eventId !== outcome.eventId) outcome = await evaluate(event);
      if (outcome.kind !== 'finding') return { notEvaluated: outcome.kind === 'gone' ? outcome.detail : `duplicate delivery of event ${outcome.eventId}` };
      if (outcome.retryLater) throw new RetryLaterError(event.bucket, outcome.retryLater);
      return { finding: outcome.finding };
    };

    try {
      if (isSqsEvent(event)) {
        const processor = new BatchProcessor(EventType.SQS);
        // A batch whose every record is retried (a batch of one, say) still answers with batchItemFailures:
        // the function's error metric then means "the guard itself broke", never "a bucket is retried".
        const response = await processPartialResponse(event, async (record: SQSRecord) => {
          const body = parseBody(record);
          if (body === undefined) {
            sink.ignored(`SQS message ${record.messageId} is not a JSON event`);
            return;
          }
          await handle(parseBucketEvent(body, hub ? 'any' : accountId));
        }, processor, { context: context as Context, throwOnFullBatchFailure: false });
        if (broken.length > 0) throw broken[0]; // the Errors alarm, and the batch comes back as it was
        return response;
      }
      return await handle(parseBucketEvent(event, hub ? 'any' : accountId));
    } finally {
      await sink.flush();
    }
  };
};

const lambdaHandler = (): ((event: unknown, context?: Partial<Context>) => Promise<SQSBatchResponse | BareEventResult>) => {
  const guard = createGuard();
  const run = createBucketEventHandler(guard, deployedSink(() => guard.events(guard.homeRegion)), hubFactory(guard));
  return (event, context) => {
    if (context?.awsRequestId) logger.addContext(context as Context);
    return run(event, context);
  };
};

export const handler = lambdaHandler();
