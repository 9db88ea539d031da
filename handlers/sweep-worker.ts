/**
 * `sweepWorker` (organization=hub): the messages of an organisation sweep, from the sweep work queue —
 * an account to list, or a page of an account's buckets to evaluate (lib/organization/org-sweep.ts).
 * Partial-batch failures: a message that failed comes back alone.
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { listBucketPages } from '../lib/bucket-state';
import { explainCredentials } from '../lib/credentials-hint';
import { isTransient } from '../lib/aws-errors';
import { enforceThrough } from '../lib/organization/hub';
import { createGuard, type Guard } from '../lib/guard';
import { handleSweepMessage, type OrgSweepDeps } from '../lib/organization/org-sweep';
import { PAGE_MESSAGE_MAX_BUCKETS, parseSweepMessage } from '../lib/organization/sweep-messages';
import { orgSweepRuntime, type OrgSweepRuntime } from '../lib/organization/sweep-wiring';
import { deployedSink, type FindingSink, logger } from '../lib/telemetry';
import { createWarningMemory, type WarningMemory } from '../lib/warning-memory';
import type { Json } from '../lib/json';

const LIST_PAGE_SIZE = 10_000;

export interface SweepWorkerRuntime extends OrgSweepRuntime {
  warningMemory?: WarningMemory;
  log: (message: string, details: Json) => void;
}

export const createSweepWorker = (guard: Guard, sink: FindingSink, runtime: SweepWorkerRuntime) =>
  async (event: SQSEvent, context: Partial<Context> = {}): Promise<SQSBatchResponse> => {
    const identity = await guard.identityOf(context).catch((error: unknown) => { throw explainCredentials(error); });
    const hub = runtime.hubOf(identity);
    const { sweep } = guard.config;
    const deps: OrgSweepDeps = {
      progress: runtime.progress,
      send: runtime.send,
      homeRegion: guard.homeRegion,
      pageSize: Math.min(sweep.pageSize, PAGE_MESSAGE_MAX_BUCKETS),
      listBuckets: async function* (account) {
        const { s3 } = await hub.depsFor(account);
        // Listed 10,000 at a time (ListBuckets' most: the fewest calls), then cut into page messages.
        yield* listBucketPages(s3, guard.homeRegion, LIST_PAGE_SIZE, undefined, true);
      },
      inScope: (account) => hub.scope.check(account),
      // A role refused since the account was listed (deleted, its trust changed) is an ERROR, not a retry.
      enforce: (account, bucket, sweepId) => enforceThrough(hub, {
        bucket: bucket.name, region: bucket.region ?? guard.homeRegion, accountId: account, partition: identity.partition, trigger: { type: 'sweep', sweepId },
      }),
      record: (finding, log) => sink.finding(finding, log),
      page: {
        settings: sweep,
        ...(runtime.warningMemory ? { warningMemory: runtime.warningMemory } : {}),
        notEvaluated: (what) => sink.notEvaluated(what),
        retrying: (bucket, error) => sink.retrying(bucket, error),
        pageDone: () => sink.flush(),
        remainingMs: () => context.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY,
        now: Date.now,
        calls: guard.calls,
      },
      now: Date.now,
    };
    /** Errors that are not AWS's passing faults: the worker itself broke, and the invocation fails loudly. */
    const broken: unknown[] = [];
    try {
      const response = await processPartialResponse(event, async (record: SQSRecord) => {
        const message = parseSweepMessage(record.body);
        if (typeof message === 'string') {
          sink.ignored(`sweep message ${record.messageId}: ${message}`);
          return;
        }
        const result = await handleSweepMessage(message, deps).catch((error: unknown) => {
          if (!isTransient(error)) broken.push(error);
          throw error;
        });
        if (result.status === 'skipped') runtime.log('sweep message skipped', { reason: result.reason });
        if (result.completed) runtime.log('sweep completed', { summary: result.completed });
      }, new BatchProcessor(EventType.SQS), { context: context as Context, throwOnFullBatchFailure: false });
      if (broken.length > 0) throw broken[0]; // the Errors alarm; the batch comes back as it was
      return response;
    } finally {
      await sink.flush();
    }
  };

const lambdaHandler = (): ((event: SQSEvent, context?: Partial<Context>) => Promise<SQSBatchResponse>) => {
  const guard = createGuard();
  const org = orgSweepRuntime(guard);
  const table = guard.config.flap.table;
  if (!org || !table) return () => Promise.reject(new Error('sweepWorker runs only with organization=hub'));
  return createSweepWorker(guard, deployedSink(() => guard.events(guard.homeRegion)), {
    ...org,
    warningMemory: createWarningMemory(() => guard.dynamodb(guard.homeRegion), table, (problem) => logger.warn(problem)),
    log: (message, details) => logger.info(message, details),
  });
};

export const handler = lambdaHandler();
