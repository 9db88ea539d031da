/**
 * The sweep's look at the guard's Batch Operations jobs: progress of those still running, and — once — the
 * outcome of each finished job, which is then tagged as reported on the job itself (no state of our own).
 */
import type { JobOutcome } from './batch-plan';
import { isTerminal } from './batch-plan';
import type { FailureSummary } from './completion-report';
import type { ReencryptFinding } from './report';

export interface TrackedJob {
  jobId: string;
  bucket: string;
  keyArn: string;
  status?: string;
}

export interface TrackDeps {
  region: string;
  bucketKeyEnabled: boolean;
  accountId: string;
  jobs: () => Promise<TrackedJob[]>;
  describe: (jobId: string) => Promise<JobOutcome>;
  isReported: (jobId: string) => Promise<boolean>;
  markReported: (jobId: string) => Promise<void>;
  /** The failed objects' reasons from a finished job's completion report; `undefined` when it cannot be read. */
  failures?: (outcome: JobOutcome) => Promise<FailureSummary | undefined>;
}

export const jobFinding = (job: TrackedJob, outcome: JobOutcome, deps: Pick<TrackDeps, 'region' | 'accountId' | 'bucketKeyEnabled'>, failures?: FailureSummary): ReencryptFinding => {
  const failed = outcome.status !== 'Complete' || outcome.tasks.failed > 0;
  const reasons = failures && failures.byReason.length > 0
    ? `; reasons: ${failures.byReason.slice(0, 5).map((r) => `${r.objects} × ${r.reason}`).join('; ')}`
    : outcome.report && outcome.tasks.failed > 0 ? `: each failed object and its reason are in the completion report ${outcome.report}` : '';
  return {
    schemaVersion: 1, bucket: job.bucket, account: deps.accountId, region: deps.region, trigger: { type: 'job-tracking' },
    outcome: !outcome.finished ? 'JOB_RUNNING' : failed ? 'JOB_FAILED' : 'JOB_COMPLETED',
    path: 'batch', target: { kind: 'kms', keyArn: job.keyArn, bucketKeyEnabled: deps.bucketKeyEnabled }, job: outcome,
    detail: !outcome.finished
      ? `${outcome.tasks.succeeded} of ${outcome.tasks.total} objects re-keyed so far (${outcome.status})`
      : `${outcome.tasks.succeeded} objects re-keyed, ${outcome.tasks.failed} failed${reasons}${outcome.failureReasons.length > 0 ? `; job failure: ${outcome.failureReasons.join('; ')}` : ''}`,
    ...(failures && failures.sample.length > 0 ? { failedObjects: failures.sample } : {}),
  };
};

/** Findings for the jobs that are running or finished since the last sweep; a finished job is reported once. */
export const trackJobs = async (deps: TrackDeps): Promise<ReencryptFinding[]> => {
  const findings: ReencryptFinding[] = [];
  for (const job of await deps.jobs()) {
    if (isTerminal(job.status as Parameters<typeof isTerminal>[0]) && await deps.isReported(job.jobId)) continue;
    const outcome = await deps.describe(job.jobId);
    const failures = outcome.finished && outcome.tasks.failed > 0 ? await deps.failures?.(outcome) : undefined;
    findings.push(jobFinding(job, outcome, deps, failures));
    if (outcome.finished) await deps.markReported(job.jobId);
  }
  return findings;
};
