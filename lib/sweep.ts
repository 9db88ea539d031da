/**
 * The sweep: every bucket of the region, page by page, through the same `enforceBucket` as the event
 * path. One Lambda run has 15 minutes; before its time runs out the sweep hands the continuation token
 * (and the totals so far) to the next run. A token is handed on only after its page is fully handled, so
 * no page is skipped; a page handled twice writes nothing the second time (evaluation is idempotent).
 */
import { type CallCounts, callsSince } from './aws-clients';
import type { BucketPage } from './bucket-state';
import { forEachLimit } from './concurrency';
import type { SweepSettings } from './config';
import type { Verdict } from './evaluate';
import type { Outcome } from './enforce';
import type { Action, Finding } from './finding';
import type { NotEvaluated } from './telemetry';

export interface SweepTotals {
  pages: number;
  buckets: number;
  verdicts: Partial<Record<Verdict, number>>;
  actions: Partial<Record<Action, number>>;
  /** Buckets whose evaluation failed (throttling, 5xx after retries): left for the next sweep or event. */
  retryLater: number;
  /** Listed buckets that no longer existed when the guard looked (deleted meanwhile): no finding. */
  notFound?: number;
  calls: CallCounts;
}

/** What one run hands the next: JSON, so it survives an asynchronous invocation. */
export interface SweepState {
  sweepId: string;
  /** 0 for the first run of a sweep. */
  hop: number;
  continuationToken?: string;
  startedAt: number;
  totals: SweepTotals;
}

export interface SweepSummary extends SweepTotals {
  sweepId: string;
  hops: number;
  durationMs: number;
  /** This run's share of `durationMs`. */
  runMs: number;
}

export type SweepOutcome =
  | { status: 'completed'; summary: SweepSummary }
  | { status: 'continued'; next: SweepState }
  | { status: 'stopped'; reason: string; next: SweepState; summary: SweepSummary };

export interface SweepDeps {
  settings: SweepSettings;
  pages: (startToken?: string) => AsyncIterable<BucketPage>;
  enforce: (bucket: { name: string; region?: string }, sweepId: string) => Promise<Outcome>;
  /** Counts (and, if `log`, logs) a finding. */
  record: (finding: Finding, log: boolean) => void;
  /** A listed bucket that was deleted before the guard looked at it. */
  notEvaluated: (what: NotEvaluated) => void;
  retrying: (bucket: string, error: unknown) => void;
  /** After each page: flush metrics, so they are not held until the end. */
  pageDone: (totals: SweepTotals) => Promise<void>;
  handOver: (next: SweepState) => Promise<void>;
  remainingMs: () => number;
  now: () => number;
  calls: CallCounts;
}

/** Time kept back at the end of a run to hand over: at least a minute, or twice the slowest page. */
const MIN_RESERVE_MS = 60_000;

export const newSweep = (sweepId: string, now: number): SweepState => ({
  sweepId, hop: 0, startedAt: now,
  totals: { pages: 0, buckets: 0, verdicts: {}, actions: {}, retryLater: 0, calls: {} },
});

const increment = <K extends string>(counts: Partial<Record<K, number>>, key: K): void => {
  counts[key] = (counts[key] ?? 0) + 1;
};

const addCalls = (total: CallCounts, more: CallCounts): CallCounts => {
  const sum = { ...total };
  for (const [operation, n] of Object.entries(more)) sum[operation] = (sum[operation] ?? 0) + n;
  return sum;
};

export const runSweep = async (state: SweepState, deps: SweepDeps): Promise<SweepOutcome> => {
  const runStarted = deps.now();
  const callsBefore = { ...deps.calls };
  const totals: SweepTotals = { ...state.totals, verdicts: { ...state.totals.verdicts }, actions: { ...state.totals.actions } };
  let token = state.continuationToken;
  let slowestPageMs = 0;

  const withCalls = (): SweepTotals => ({ ...totals, calls: addCalls(state.totals.calls, callsSince(deps.calls, callsBefore)) });
  const summary = (): SweepSummary => ({
    sweepId: state.sweepId, hops: state.hop + 1, ...withCalls(),
    durationMs: deps.now() - state.startedAt, runMs: deps.now() - runStarted,
  });
  const next = (): SweepState => ({ sweepId: state.sweepId, hop: state.hop + 1, startedAt: state.startedAt, totals: withCalls(), ...(token ? { continuationToken: token } : {}) });

  const pages = deps.pages(token)[Symbol.asyncIterator]();
  for (;;) {
    // Enough time for one more page and the hand-over? Otherwise hand over now.
    if (deps.remainingMs() < Math.max(MIN_RESERVE_MS, 2 * slowestPageMs)) {
      await pages.return?.(undefined);
      if (state.hop + 1 >= deps.settings.maxHops) {
        return { status: 'stopped', reason: `hop limit ${deps.settings.maxHops} reached; invoke the function with {"sweep": next} to resume`, next: next(), summary: summary() };
      }
      const handed = next();
      await deps.handOver(handed);
      return { status: 'continued', next: handed };
    }
    const pageStarted = deps.now();
    const { value: page, done } = await pages.next();
    if (done) break;
    await forEachLimit(page.buckets, deps.settings.concurrency, async (bucket) => {
      try {
        const outcome = await deps.enforce(bucket, state.sweepId);
        if (outcome.kind !== 'finding') {
          totals.notFound = (totals.notFound ?? 0) + 1;
          deps.notEvaluated(outcome);
          return;
        }
        const { finding } = outcome;
        increment(totals.verdicts, finding.verdict);
        increment(totals.actions, finding.action);
        // A compliant bucket is logged only when asked, or when it carries warnings (report-only guardrails).
        deps.record(finding, deps.settings.logCompliant || finding.verdict !== 'COMPLIANT' || finding.violations.length > 0);
      } catch (error) {
        // Transient by contract (enforceBucket turns every other outcome into a finding): the bucket
        // waits for the next sweep or event; the rest of the page goes on.
        totals.retryLater += 1;
        deps.retrying(bucket.name, error);
      }
    });
    totals.pages += 1;
    totals.buckets += page.buckets.length;
    token = page.nextToken;
    await deps.pageDone(totals);
    slowestPageMs = Math.max(slowestPageMs, deps.now() - pageStarted);
    if (!token) break;
  }
  return { status: 'completed', summary: summary() };
};
