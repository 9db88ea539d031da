/**
 * The organisation sweep's flow with its dependencies faked (the progress in memory, with the adapter's
 * semantics: a marker per counted message): how an account becomes page messages, what an unreachable
 * or unlisted account costs, what a redelivered message does, and in which order things are written.
 */
import type { Outcome } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import { MemberRoleUnavailableError } from '../../lib/organization/member-credentials';
import { handleSweepMessage, type OrgSweepDeps, startOrgSweep } from '../../lib/organization/org-sweep';
import type { ScopeDecision } from '../../lib/organization/scope';
import type { PageMessage, SweepMessage } from '../../lib/organization/sweep-messages';
import type { Marker, SweepProgress } from '../../lib/organization/sweep-progress';
import { s3Error } from './aws-mocks';
import { config } from './fixtures';

const A = '111111111111';
const account = (sweepId = 's1'): SweepMessage => ({ kind: 'account', sweepId, account: A });

/** The progress as DynamoDB keeps it, in memory. */
const memoryProgress = (journal: string[]) => {
  const markers = new Map<string, Marker>();
  const pending = { accounts: 0, pages: 0 };
  let completed = false;
  const progress: SweepProgress = {
    start: async (sweepId, accounts) => {
      journal.push(`start ${sweepId} ${accounts}`);
      pending.accounts = accounts;
      return 'started';
    },
    marker: async (_sweepId, id) => markers.get(id),
    count: async (_sweepId, id, change, marker = {}) => {
      if (markers.has(id)) return 'already-counted';
      markers.set(id, marker);
      pending.accounts += change.accountsDone;
      pending.pages += change.pagesAdded;
      journal.push(`count ${id} ${JSON.stringify(change)}`);
      return 'counted';
    },
    repage: async (_sweepId, id, from, to) => {
      markers.set(id, { ...markers.get(id), pages: to });
      pending.pages += to - from;
      journal.push(`repage ${id} ${from}->${to}`);
    },
    markSent: async (_sweepId, id) => {
      markers.set(id, { ...markers.get(id), sent: true });
      journal.push(`sent ${id}`);
    },
    complete: async (sweepId) => {
      if (completed || pending.accounts !== 0 || pending.pages !== 0) return undefined;
      completed = true;
      return { sweepId, accounts: 1, unreachableAccounts: 0, unlistedAccounts: 0, pages: 0, buckets: 0, verdicts: {}, actions: {}, warnings: {}, retryLater: 0, notFound: 0, logged: 0, durationMs: 0 };
    },
  };
  return { progress, markers, pending };
};

const fakes = (listed: () => Array<Array<{ name: string; region?: string }>> | Error, scope: ScopeDecision = { ok: true }) => {
  const journal: string[] = [];
  const sent: SweepMessage[] = [];
  const findings: Finding[] = [];
  const evaluated: string[] = [];
  const memory = memoryProgress(journal);
  const deps: OrgSweepDeps = {
    progress: memory.progress,
    send: async (messages) => {
      journal.push(`send ${messages.length}`);
      sent.push(...messages);
    },
    inScope: async () => scope,
    homeRegion: 'us-east-1',
    pageSize: 2,
    listBuckets: async function* () {
      const result = listed();
      if (result instanceof Error) throw result;
      for (const buckets of result) yield { buckets };
    },
    enforce: async (acct, bucket, sweepId): Promise<Outcome> => {
      evaluated.push(bucket.name);
      return {
        kind: 'finding',
        finding: { schemaVersion: 1, bucket: bucket.name, account: acct, region: bucket.region ?? 'us-east-1', trigger: { type: 'sweep', sweepId }, verdict: 'COMPLIANT', violations: [], action: 'NONE', durationMs: 1 },
      };
    },
    record: (finding) => { findings.push(finding); },
    page: {
      settings: config().sweep,
      notEvaluated: () => undefined,
      retrying: () => undefined,
      pageDone: async () => undefined,
      remainingMs: () => Number.POSITIVE_INFINITY,
      now: Date.now,
      calls: {},
    },
    now: Date.now,
  };
  return { deps, journal, sent, findings, evaluated, memory };
};

const drain = async (f: ReturnType<typeof fakes>) => {
  const results = [];
  while (f.sent.length > 0) results.push(await handleSweepMessage(f.sent.shift()!, f.deps));
  return results;
};

describe('the organisation sweep', () => {
  it('starts by counting the accounts, then sends one message per account', async () => {
    const { deps, journal, sent } = fakes(() => []);
    await startOrgSweep('s1', [A, '222222222222'], deps);
    expect(journal).toEqual(['start s1 2', 'send 2']);
    expect(sent).toEqual([account(), { kind: 'account', sweepId: 's1', account: '222222222222' }]);
  });

  it('counts an account\'s pages before sending them, cut to pageSize buckets, and completes when the last page is counted', async () => {
    const f = fakes(() => [[{ name: 'b1', region: 'eu-west-1' }, { name: 'b2' }, { name: 'b3' }], [{ name: 'b4' }, { name: 'b5' }]]);
    f.memory.pending.accounts = 1;
    const first = await handleSweepMessage(account(), f.deps);
    expect(first).toEqual({ status: 'done' });
    expect((f.sent as PageMessage[]).map((m) => [m.page, m.buckets.map((b) => b.name)])).toEqual([[0, ['b1', 'b2']], [1, ['b3', 'b4']], [2, ['b5']]]);
    expect(f.sent[0]).toMatchObject({ kind: 'page', sweepId: 's1', account: A, buckets: [{ name: 'b1', region: 'eu-west-1' }, { name: 'b2' }] });
    expect(f.journal).toEqual([`count account:${A} {"accountsDone":-1,"pagesAdded":3,"totals":{}}`, 'send 3', `sent account:${A}`]);
    const results = await drain(f);
    expect(results.map((r) => r.completed !== undefined)).toEqual([false, false, true]);
    expect(f.evaluated).toEqual(['b1', 'b2', 'b3', 'b4', 'b5']);
  });

  it('an account without buckets completes at once', async () => {
    const f = fakes(() => []);
    f.memory.pending.accounts = 1;
    expect(await handleSweepMessage(account(), f.deps)).toMatchObject({ status: 'done', completed: expect.objectContaining({ sweepId: 's1' }) });
  });

  it('a redelivered account message whose pages were all sent does nothing', async () => {
    const f = fakes(() => [[{ name: 'b1' }]]);
    f.memory.pending.accounts = 1;
    await handleSweepMessage(account(), f.deps);
    f.sent.length = 0;
    expect(await handleSweepMessage(account(), f.deps)).toEqual({ status: 'skipped', reason: `account:${A} was listed and its pages sent (a redelivered message)` });
    expect(f.sent).toEqual([]);
  });

  it('an account message back after a failed send is listed again, its pages sent under the same identities and the page count corrected', async () => {
    let listing = [[{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }]];
    const f = fakes(() => listing);
    f.memory.pending.accounts = 1;
    const send = f.deps.send;
    f.deps.send = async () => { throw s3Error('ServiceUnavailable', 503); };
    await expect(handleSweepMessage(account(), f.deps)).rejects.toThrow('ServiceUnavailable');
    f.deps.send = send;
    listing = [[{ name: 'b1' }, { name: 'b2' }, { name: 'b3' }, { name: 'b4' }, { name: 'b5' }]];
    await handleSweepMessage(account(), f.deps);
    expect(f.journal).toContain(`repage account:${A} 2->3`);
    expect((f.sent as PageMessage[]).map((m) => m.page)).toEqual([0, 1, 2]);
    const results = await drain(f);
    expect(results.filter((r) => r.completed)).toHaveLength(1);
    expect(f.memory.pending).toEqual({ accounts: 0, pages: 0 });
  });

  it('a redelivered page that was counted is not evaluated again', async () => {
    const f = fakes(() => [[{ name: 'b1' }]]);
    f.memory.pending.accounts = 1;
    await handleSweepMessage(account(), f.deps);
    const page = f.sent[0]!;
    await drain(f);
    expect(await handleSweepMessage(page, f.deps)).toEqual({ status: 'skipped', reason: `page:${A}:0 was counted already (a redelivered message)` });
    expect(f.evaluated).toEqual(['b1']);
  });

  it('an account whose role cannot be assumed is one ERROR finding for the whole account, counted as done', async () => {
    const f = fakes(() => new MemberRoleUnavailableError(A, `arn:aws:iam::${A}:role/s3-encryption-guard/m`, Object.assign(new Error('denied'), { name: 'AccessDenied' })));
    f.memory.pending.accounts = 1;
    const result = await handleSweepMessage(account(), f.deps);
    expect(f.sent).toEqual([]);
    expect(f.findings).toEqual([expect.objectContaining({ bucket: '*', account: A, region: 'us-east-1', verdict: 'ERROR', action: 'SKIPPED', violations: [expect.objectContaining({ code: 'MEMBER_ROLE_UNAVAILABLE' })] })]);
    expect(f.journal).toEqual([`count account:${A} {"accountsDone":-1,"pagesAdded":0,"totals":{"unreachableAccounts":1,"verdicts":{"ERROR":1},"actions":{"SKIPPED":1},"logged":1}}`]);
    expect(result.completed).toBeDefined();
  });

  it('an account whose listing is refused (no s3:ListAllMyBuckets, an SCP) is one ERROR finding too, never a silent gap', async () => {
    const f = fakes(() => s3Error('AccessDenied', 403));
    f.memory.pending.accounts = 1;
    await handleSweepMessage(account(), f.deps);
    expect(f.findings).toEqual([expect.objectContaining({ bucket: '*', account: A, verdict: 'ERROR', violations: [expect.objectContaining({ code: 'ACCESS_DENIED', detail: expect.stringContaining('s3:ListAllMyBuckets') })] })]);
    expect(f.memory.pending).toEqual({ accounts: 0, pages: 0 });
  });

  it('a passing fault while listing is thrown, so the account message comes back and nothing is counted', async () => {
    const f = fakes(() => s3Error('SlowDown', 503));
    await expect(handleSweepMessage(account(), f.deps)).rejects.toThrow('SlowDown');
    expect(f.journal).toEqual([]);
  });

  it('an account no longer in scope is counted as done without listing it', async () => {
    const f = fakes(() => { throw new Error('must not list'); }, { ok: false, reason: `account ${A} is not in memberAccounts` });
    f.memory.pending.accounts = 1;
    expect(await handleSweepMessage(account(), f.deps)).toMatchObject({ status: 'skipped', reason: `account ${A} is not in memberAccounts` });
    expect(f.memory.pending).toEqual({ accounts: 0, pages: 0 });
  });

  it('a page message evaluates its buckets in their account and adds the page\'s counts', async () => {
    const f = fakes(() => []);
    f.memory.pending.pages = 1;
    await handleSweepMessage({ kind: 'page', sweepId: 's1', account: A, page: 4, buckets: [{ name: 'b1' }, { name: 'b2', region: 'eu-west-1' }] }, f.deps);
    expect(f.findings.map((finding) => [finding.bucket, finding.account, finding.region])).toEqual([['b1', A, 'us-east-1'], ['b2', A, 'eu-west-1']]);
    expect(JSON.parse(f.journal[0]!.replace(`count page:${A}:4 `, ''))).toEqual({
      accountsDone: 0, pagesAdded: -1,
      totals: { pages: 1, buckets: 2, verdicts: { COMPLIANT: 2 }, actions: { NONE: 2 }, warnings: {}, retryLater: 0, notFound: 0, logged: 0 },
    });
  });
});
