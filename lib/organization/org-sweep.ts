/**
 * The hub's sweep of every account: the coordinator's start, and what a worker does with each message.
 * Dependencies are passed in (handlers/sweep.ts and handlers/sweep-worker.ts wire the real ones), so the
 * flow reads, and is specified, without AWS.
 *
 * - start: every account in scope gets one message; the progress item counts them.
 * - account message: the hub assumes the member role, lists every bucket of the account (all regions),
 *   and sends one page message per `pageSize` buckets; a role that cannot be assumed is one ERROR finding
 *   for the whole account.
 * - page message: each bucket goes through the same `enforceBucket` as the event path (lib/sweep.ts
 *   `runSweep` over the one page), and the page's counts are added to the progress.
 */
import type { BucketPage } from '../bucket-state';
import type { Outcome } from '../enforce';
import type { Finding } from '../finding';
import { type SweepDeps, newSweep, runSweep, type SweepTotals } from '../sweep';
import { MemberRoleUnavailableError } from './member-credentials';
import type { ProgressResult, SweepProgress, TotalsChange } from './sweep-progress';
import { type AccountMessage, type PageMessage, progressId, type SweepMessage } from './sweep-messages';
import { unreachableFinding, WHOLE_ACCOUNT } from './unreachable';

export interface OrgSweepDeps {
  progress: SweepProgress;
  send: (messages: readonly SweepMessage[]) => Promise<void>;
  /** The hub's region: where an account-wide finding is reported. */
  homeRegion: string;
  pageSize: number;
  /** Throws MemberRoleUnavailableError when the account's role cannot be assumed. */
  listBuckets: (account: string) => AsyncIterable<BucketPage>;
  enforce: (account: string, bucket: { name: string; region?: string }, sweepId: string) => Promise<Outcome>;
  record: (finding: Finding, log: boolean) => void;
  /** The rest of runSweep's dependencies for one page (warning memory, telemetry hooks, counts). */
  page: Omit<SweepDeps, 'pages' | 'enforce' | 'record' | 'handOver'>;
  now: () => number;
}

/** The coordinator: one message per account, after the progress item knows how many to wait for. */
export const startOrgSweep = async (sweepId: string, accounts: readonly string[], deps: Pick<OrgSweepDeps, 'progress' | 'send'>): Promise<void> => {
  await deps.progress.start(sweepId, accounts.length);
  await deps.send(accounts.map((account): AccountMessage => ({ kind: 'account', sweepId, account })));
};

const pageTotals = (totals: SweepTotals): TotalsChange => ({
  pages: 1, buckets: totals.buckets, verdicts: totals.verdicts as Record<string, number>, actions: totals.actions as Record<string, number>,
  warnings: totals.warnings, retryLater: totals.retryLater, notFound: totals.notFound ?? 0, logged: totals.logged,
});

const handleAccount = async (message: AccountMessage, deps: OrgSweepDeps): Promise<ProgressResult> => {
  const started = deps.now();
  const pages: PageMessage[] = [];
  try {
    // Listing pages are re-cut to pageSize buckets: ListBuckets may answer with pages of its own size.
    let pending: PageMessage['buckets'] = [];
    const cut = (): void => {
      pages.push({ kind: 'page', sweepId: message.sweepId, account: message.account, page: pages.length, buckets: pending });
      pending = [];
    };
    for await (const listed of deps.listBuckets(message.account)) {
      for (const bucket of listed.buckets) {
        pending.push(bucket);
        if (pending.length === deps.pageSize) cut();
      }
    }
    if (pending.length > 0) cut();
  } catch (error) {
    if (!(error instanceof MemberRoleUnavailableError)) throw error;
    const finding = unreachableFinding({ bucket: WHOLE_ACCOUNT, region: deps.homeRegion, trigger: { type: 'sweep', sweepId: message.sweepId }, error, durationMs: deps.now() - started });
    deps.record(finding, true);
    return deps.progress.record(message.sweepId, progressId(message), {
      accountsDone: -1, pagesAdded: 0, totals: { unreachableAccounts: 1, verdicts: { ERROR: 1 }, actions: { SKIPPED: 1 }, logged: 1 },
    });
  }
  // Pages are sent before the account is counted: if sending fails, the account message comes back whole.
  await deps.send(pages);
  return deps.progress.record(message.sweepId, progressId(message), { accountsDone: -1, pagesAdded: pages.length, totals: {} });
};

const handlePage = async (message: PageMessage, deps: OrgSweepDeps): Promise<ProgressResult> => {
  const state = newSweep(message.sweepId, deps.now());
  const outcome = await runSweep(state, {
    ...deps.page,
    pages: async function* () { yield { buckets: message.buckets }; },
    enforce: (bucket, sweepId) => deps.enforce(message.account, bucket, sweepId),
    record: deps.record,
    // One page always fits one run (the worker's timeout is 15 minutes); there is nothing to hand on.
    handOver: () => Promise.reject(new Error('a page message never continues itself')),
    remainingMs: () => Number.POSITIVE_INFINITY,
  });
  if (outcome.status !== 'completed') throw new Error(`page ${progressId(message)} did not complete: ${outcome.status}`);
  return deps.progress.record(message.sweepId, progressId(message), { accountsDone: 0, pagesAdded: -1, totals: pageTotals(outcome.summary) });
};

export const handleSweepMessage = (message: SweepMessage, deps: OrgSweepDeps): Promise<ProgressResult> =>
  message.kind === 'account' ? handleAccount(message, deps) : handlePage(message, deps);
