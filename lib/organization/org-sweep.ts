/**
 * The hub's sweep of every account: the coordinator's start, and what a worker does with each message.
 * Dependencies are passed in (handlers/sweep.ts and handlers/sweep-worker.ts wire the real ones), so the
 * flow reads, and is specified, without AWS.
 *
 * - start: the progress learns how many accounts to wait for; every account in scope gets one message.
 * - account message: the hub lists every bucket of the account (all regions) through its member role,
 *   counts the pages it will send, then sends one page message per `pageSize` buckets. A role that cannot
 *   be assumed, or a listing refused, is one ERROR finding for the whole account.
 * - page message: each bucket goes through the same `enforceBucket` as the event path (lib/sweep.ts
 *   `runSweep` over the one page), and the page's counts are added to the progress.
 *
 * SQS delivers at least once: a message that was counted is not handled again; an account message that
 * comes back before its pages were all sent is listed again and its pages sent again under the same
 * identities (a page already counted is not evaluated twice).
 */
import { isTransient } from '../aws-errors';
import type { BucketPage } from '../bucket-state';
import type { Outcome } from '../enforce';
import type { Finding } from '../finding';
import { newSweep, runSweep, type SweepDeps, type SweepTotals } from '../sweep';
import { MemberRoleUnavailableError } from './member-credentials';
import type { ScopeDecision } from './scope';
import type { OrgSweepSummary, SweepProgress, TotalsChange } from './sweep-progress';
import { type AccountMessage, type PageMessage, progressId, type SweepMessage } from './sweep-messages';
import { unlistedFinding, unreachableFinding, WHOLE_ACCOUNT } from './unreachable';

export interface OrgSweepDeps {
  progress: SweepProgress;
  send: (messages: readonly SweepMessage[]) => Promise<void>;
  /** Whether the hub may act in the account (the scope can shrink while a sweep runs). */
  inScope: (account: string) => Promise<ScopeDecision>;
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

export type MessageResult =
  | { status: 'done'; completed?: OrgSweepSummary }
  | { status: 'skipped'; reason: string; completed?: OrgSweepSummary };

/** The coordinator: the progress first, then one message per account (again, if its invocation was retried). */
export const startOrgSweep = async (sweepId: string, accounts: readonly string[], deps: Pick<OrgSweepDeps, 'progress' | 'send'>): Promise<'started' | 'resumed'> => {
  const started = await deps.progress.start(sweepId, accounts.length);
  await deps.send(accounts.map((account): AccountMessage => ({ kind: 'account', sweepId, account })));
  return started;
};

const pageTotals = (totals: SweepTotals): TotalsChange => ({
  pages: 1, buckets: totals.buckets, verdicts: totals.verdicts as Record<string, number>, actions: totals.actions as Record<string, number>,
  warnings: totals.warnings, retryLater: totals.retryLater, notFound: totals.notFound ?? 0, logged: totals.logged,
});

/** After a count: the summary, when this message was the last one pending. */
const finish = async (message: SweepMessage, deps: OrgSweepDeps): Promise<MessageResult> => {
  const completed = await deps.progress.complete(message.sweepId);
  return { status: 'done', ...(completed ? { completed } : {}) };
};

/** An account the sweep cannot cover: one ERROR finding for it, counted as done so the sweep can complete. */
const accountFailed = async (message: AccountMessage, finding: Finding, totals: TotalsChange, deps: OrgSweepDeps): Promise<MessageResult> => {
  deps.record(finding, true);
  await deps.progress.count(message.sweepId, progressId(message), { accountsDone: -1, pagesAdded: 0, totals: { ...totals, verdicts: { ERROR: 1 }, actions: { SKIPPED: 1 }, logged: 1 } }, { sent: true });
  return finish(message, deps);
};

const handleAccount = async (message: AccountMessage, deps: OrgSweepDeps): Promise<MessageResult> => {
  const id = progressId(message);
  const known = await deps.progress.marker(message.sweepId, id);
  if (known?.sent) return { status: 'skipped', reason: `${id} was listed and its pages sent (a redelivered message)` };
  const scope = await deps.inScope(message.account);
  if (!scope.ok) {
    await deps.progress.count(message.sweepId, id, { accountsDone: -1, pagesAdded: 0, totals: {} }, { sent: true });
    return { ...await finish(message, deps), status: 'skipped', reason: scope.reason };
  }
  const started = deps.now();
  const trigger = { type: 'sweep' as const, sweepId: message.sweepId };
  const pages: PageMessage[] = [];
  try {
    // Listing pages are re-cut to pageSize buckets: ListBuckets answers with pages of its own size.
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
    if (error instanceof MemberRoleUnavailableError) {
      return accountFailed(message, unreachableFinding({ bucket: WHOLE_ACCOUNT, region: deps.homeRegion, trigger, error, durationMs: deps.now() - started }), { unreachableAccounts: 1 }, deps);
    }
    if (isTransient(error)) throw error; // the message comes back
    return accountFailed(message, unlistedFinding({ account: message.account, region: deps.homeRegion, trigger, error, durationMs: deps.now() - started }), { unlistedAccounts: 1 }, deps);
  }
  // The pages are counted before they are sent, so no page can finish before the sweep waits for it.
  if (!known) {
    const counted = await deps.progress.count(message.sweepId, id, { accountsDone: -1, pagesAdded: pages.length, totals: {} }, { pages: pages.length });
    if (counted === 'unknown-sweep') return { status: 'skipped', reason: `sweep ${message.sweepId} is unknown or expired` };
    if (counted === 'already-counted') throw new Error(`${id} is being handled by another delivery; this one comes back later`);
  } else if (known.pages !== pages.length) {
    await deps.progress.repage(message.sweepId, id, known.pages ?? 0, pages.length);
  }
  await deps.send(pages);
  await deps.progress.markSent(message.sweepId, id);
  return pages.length === 0 ? finish(message, deps) : { status: 'done' };
};

const handlePage = async (message: PageMessage, deps: OrgSweepDeps): Promise<MessageResult> => {
  const id = progressId(message);
  if (await deps.progress.marker(message.sweepId, id)) return { status: 'skipped', reason: `${id} was counted already (a redelivered message)` };
  const scope = await deps.inScope(message.account);
  const outcome = scope.ok ? await runSweep(newSweep(message.sweepId, deps.now()), {
    ...deps.page,
    pages: async function* () { yield { buckets: message.buckets }; },
    enforce: (bucket, sweepId) => deps.enforce(message.account, bucket, sweepId),
    record: deps.record,
    // A page of at most 1,000 buckets fits one run (15 minutes); there is nothing to hand on.
    handOver: () => Promise.reject(new Error('a page message never continues itself')),
    remainingMs: () => Number.POSITIVE_INFINITY,
  }) : undefined;
  if (outcome && outcome.status !== 'completed') throw new Error(`${id} did not complete: ${outcome.status}`);
  const counted = await deps.progress.count(message.sweepId, id, { accountsDone: 0, pagesAdded: -1, totals: outcome ? pageTotals(outcome.summary) : {} });
  if (counted !== 'counted') return { status: 'skipped', reason: counted === 'unknown-sweep' ? `sweep ${message.sweepId} is unknown or expired` : `${id} was counted by another delivery` };
  const done = await finish(message, deps);
  return scope.ok ? done : { ...done, status: 'skipped', reason: scope.reason };
};

export const handleSweepMessage = (message: SweepMessage, deps: OrgSweepDeps): Promise<MessageResult> =>
  message.kind === 'account' ? handleAccount(message, deps) : handlePage(message, deps);
