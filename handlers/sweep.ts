/**
 * `sweepBuckets`: every bucket of the region, on a schedule, after each deploy of the stack, or when
 * invoked by hand (`{}`); a sweep that needs more than one run continues itself (`{"sweep": state}`).
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { listBucketPages } from '../lib/bucket-state';
import { explainCredentials } from '../lib/credentials-hint';
import { isTransient } from '../lib/aws-errors';
import { enforceBucket } from '../lib/enforce';
import { isObject, type Json } from '../lib/json';
import { lambdaSdk } from '../lib/sdk';
import { createGuard, type Guard } from '../lib/guard';
import { newSweep, runSweep, type SweepOutcome, type SweepState } from '../lib/sweep';
import { deployedSink, type FindingSink, logger } from '../lib/telemetry';
import { createWarningMemory, type WarningMemory } from '../lib/warning-memory';
import { jobTrackingDeps } from '../lib/reencrypt/batch-operations';
import { countProgress, logReencryption } from '../lib/reencrypt/report';
import { trackJobs } from '../lib/reencrypt/track-jobs';
import type { Identity } from '../lib/account';
import { startOrgSweep } from '../lib/organization/org-sweep';
import { orgSweepRuntime, type OrgSweepRuntime } from '../lib/organization/sweep-wiring';

/** Re-keying jobs: each finding logged; a finished job's objects counted in the metrics once. */
const trackReencryptionJobs = async (guard: Guard, accountId: string): Promise<void> => {
  try {
    const findings = await trackJobs(jobTrackingDeps(guard.s3control(guard.homeRegion), guard.s3(guard.homeRegion), accountId, guard.homeRegion, guard.config.bucketKeyEnabled));
    for (const finding of findings) {
      logReencryption(finding);
      if (finding.outcome !== 'JOB_RUNNING' && finding.job) countProgress(finding.job.tasks.succeeded, finding.job.tasks.failed);
    }
  } catch (error) {
    logger.warn('re-keying jobs not tracked; the next sweep will', { error: error instanceof Error ? error : String(error) });
  }
};


/** A continuation handed on by the previous run, checked field by field (it round-trips through Lambda). */
const parseState = (value: unknown): SweepState | undefined => {
  if (!isObject(value) || !isObject(value.totals)) return undefined;
  const { sweepId, hop, continuationToken, startedAt } = value;
  if (typeof sweepId !== 'string' || !/^[\w-]{1,64}$/.test(sweepId)) return undefined;
  if (!Number.isInteger(hop) || (hop as number) < 0 || typeof startedAt !== 'number') return undefined;
  if (continuationToken !== undefined && (typeof continuationToken !== 'string' || continuationToken.length > 4096)) return undefined;
  return value as unknown as SweepState;
};

/** Why an event does not start a sweep, or undefined when it does. */
const notASweepTrigger = (event: Json): string | undefined => {
  if (event.source === 'aws.cloudformation') {
    const status = isObject(event.detail) && isObject(event.detail['status-details']) ? event.detail['status-details'].status : undefined;
    return status === 'CREATE_COMPLETE' || status === 'UPDATE_COMPLETE' ? undefined : `stack status ${String(status)} does not start a sweep`;
  }
  return undefined; // schedule, or a manual invocation
};

/** What the hub's sweep start reports: the sweepWorker function does the rest and logs `sweep completed`. */
export interface FannedOut {
  status: 'fanned-out';
  sweepId: string;
  accounts: number;
}

export interface SweepRuntime {
  /** Starts the next run of a sweep (asynchronously). */
  handOver: (next: SweepState, context: Partial<Context>) => Promise<void>;
  log: (message: string, details: Json) => void;
  /** The previous sweep's warnings per bucket; without it every compliant bucket with warnings is logged. */
  warningMemory?: WarningMemory;
  /** After a completed sweep: findings for the guard's Batch Operations jobs (re-keying enabled only). */
  trackJobs?: (accountId: string) => Promise<void>;
  /** organization=hub: the sweep fans out to the sweep work queue instead of walking the buckets itself. */
  org?: OrgSweepRuntime;
}

/** The hub's sweep: one message per account in scope; the worker lists and evaluates. */
const fanOut = async (org: OrgSweepRuntime, identity: Identity, log: SweepRuntime['log'], requestId: string | undefined): Promise<FannedOut> => {
  const accounts = await org.hubOf(identity).scope.accounts().catch((error: unknown) => {
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(isTransient(error)
      ? `listing the organisation's accounts failed (${reason}); the invocation is retried`
      : `listing the organisation's accounts failed (${reason}): the hub must be the organisation's management account or its delegated administrator, or list memberAccounts`);
  });
  // Lambda retries an asynchronous invocation with the same request id: a retry resumes the same sweep.
  const sweepId = requestId && /^[\w-]{1,64}$/.test(requestId) ? requestId : randomUUID();
  const started = await startOrgSweep(sweepId, accounts, org);
  log('sweep started', { sweepId, accounts: accounts.length, organization: true, ...(started === 'resumed' ? { resumed: true } : {}) });
  return { status: 'fanned-out', sweepId, accounts: accounts.length };
};

export const createSweepHandler = (guard: Guard, sink: FindingSink, runtime: SweepRuntime) =>
  async (event: unknown, context: Partial<Context> = {}): Promise<SweepOutcome | FannedOut | { ignored: string }> => {
    const identity = await guard.identityOf(context).catch((error: unknown) => { throw explainCredentials(error); });
    const { accountId, partition } = identity;
    const now = Date.now;
    let state: SweepState;
    if (isObject(event) && 'sweep' in event) {
      const parsed = runtime.org ? undefined : parseState(event.sweep);
      if (!parsed) {
        const reason = runtime.org ? 'the hub\'s sweep never continues itself: it fans out to the sweep work queue' : 'malformed sweep continuation';
        sink.ignored(reason);
        return { ignored: reason };
      }
      state = parsed;
    } else {
      const reason = isObject(event) ? notASweepTrigger(event) : 'event is not an object';
      if (reason) {
        sink.ignored(reason);
        return { ignored: reason };
      }
      if (runtime.org) return fanOut(runtime.org, identity, runtime.log, context.awsRequestId);
      state = newSweep(randomUUID(), now());
      runtime.log('sweep started', { sweepId: state.sweepId, region: guard.homeRegion, settings: guard.config.sweep });
    }

    const outcome = await runSweep(state, {
      settings: guard.config.sweep,
      pages: (startToken) => listBucketPages(guard.s3, guard.homeRegion, guard.config.sweep.pageSize, startToken),
      enforce: async (bucket, sweepId) => {
        const outcome = await enforceBucket({ bucket: bucket.name, region: bucket.region ?? guard.homeRegion, accountId, partition, trigger: { type: 'sweep', sweepId } }, guard);
        if (outcome.kind === 'finding') await guard.handOff?.(outcome.finding); // a compliant KMS-mode bucket's objects: lib/reencrypt/
        return outcome;
      },
      record: (finding, log) => sink.finding(finding, log),
      ...(runtime.warningMemory ? { warningMemory: runtime.warningMemory } : {}),
      notEvaluated: (what) => sink.notEvaluated(what),
      retrying: (bucket, error) => sink.retrying(bucket, error),
      pageDone: () => sink.flush(),
      handOver: (next) => runtime.handOver(next, context),
      remainingMs: () => context.getRemainingTimeInMillis?.() ?? Number.POSITIVE_INFINITY,
      now,
      calls: guard.calls,
    });
    if (outcome.status === 'completed') {
      runtime.log('sweep completed', { summary: outcome.summary });
      await runtime.trackJobs?.(accountId);
    }
    else if (outcome.status === 'continued') runtime.log('sweep continued', { sweepId: outcome.next.sweepId, hop: outcome.next.hop, pages: outcome.next.totals.pages, buckets: outcome.next.totals.buckets });
    else runtime.log('sweep stopped', { reason: outcome.reason, summary: outcome.summary, next: outcome.next });
    await sink.flush();
    return outcome;
  };

const lambdaHandler = () => {
  const guard = createGuard();
  const table = guard.config.flap.table;
  const org = orgSweepRuntime(guard);
  return createSweepHandler(guard, deployedSink(() => guard.events(guard.homeRegion)), {
    ...(table ? { warningMemory: createWarningMemory(() => guard.dynamodb(guard.homeRegion), table, (problem) => logger.warn(problem)) } : {}),
    handOver: async (next, context) => {
      const functionName = context.invokedFunctionArn ?? context.functionName;
      if (!functionName) throw new Error('cannot continue the sweep: no function name in the context');
      await guard.lambda(guard.homeRegion).send(new (lambdaSdk().InvokeCommand)({ FunctionName: functionName, InvocationType: 'Event', Payload: JSON.stringify({ sweep: next }) }));
    },
    log: (message, details) => (message === 'sweep stopped' ? logger.error(message, details) : logger.info(message, details)),
    ...(guard.config.reencrypt.objects !== 'off' ? { trackJobs: (accountId: string) => trackReencryptionJobs(guard, accountId) } : {}),
    ...(org ? { org } : {}),
  });
};

export const handler = lambdaHandler();
