/**
 * The organisation sweep's flow with its dependencies faked: how an account becomes page messages, what an
 * unreachable account costs, and in which order messages and progress are written.
 */
import type { Outcome } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import { MemberRoleUnavailableError } from '../../lib/organization/member-credentials';
import { handleSweepMessage, type OrgSweepDeps, startOrgSweep } from '../../lib/organization/org-sweep';
import type { PageMessage, SweepMessage } from '../../lib/organization/sweep-messages';
import type { SweepProgress } from '../../lib/organization/sweep-progress';
import { config } from './fixtures';

const A = '111111111111';

const fakes = (listed: Array<Array<{ name: string; region?: string }>> | Error) => {
  const journal: string[] = [];
  const sent: SweepMessage[] = [];
  const findings: Finding[] = [];
  const progress: SweepProgress = {
    start: async (sweepId, accounts) => { journal.push(`start ${sweepId} ${accounts}`); },
    record: async (_sweepId, id, change) => {
      journal.push(`record ${id} ${JSON.stringify(change)}`);
      return { status: 'pending' };
    },
  };
  const deps: OrgSweepDeps = {
    progress,
    send: async (messages) => {
      journal.push(`send ${messages.length}`);
      sent.push(...messages);
    },
    homeRegion: 'us-east-1',
    pageSize: 2,
    listBuckets: async function* () {
      if (listed instanceof Error) throw listed;
      for (const buckets of listed) yield { buckets };
    },
    enforce: async (account, bucket, sweepId): Promise<Outcome> => ({
      kind: 'finding',
      finding: { schemaVersion: 1, bucket: bucket.name, account, region: bucket.region ?? 'us-east-1', trigger: { type: 'sweep', sweepId }, verdict: 'COMPLIANT', violations: [], action: 'NONE', durationMs: 1 },
    }),
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
  return { deps, journal, sent, findings };
};

describe('the organisation sweep', () => {
  it('starts by counting the accounts, then sends one message per account', async () => {
    const { deps, journal, sent } = fakes([]);
    await startOrgSweep('s1', [A, '222222222222'], deps);
    expect(journal).toEqual(['start s1 2', 'send 2']);
    expect(sent).toEqual([{ kind: 'account', sweepId: 's1', account: A }, { kind: 'account', sweepId: 's1', account: '222222222222' }]);
  });

  it('cuts an account\'s listing into page messages of pageSize buckets, sent before the account is counted', async () => {
    const { deps, journal, sent } = fakes([[{ name: 'b1', region: 'eu-west-1' }, { name: 'b2' }, { name: 'b3' }], [{ name: 'b4' }, { name: 'b5' }]]);
    await handleSweepMessage({ kind: 'account', sweepId: 's1', account: A }, deps);
    expect((sent as PageMessage[]).map((m) => [m.page, m.buckets.map((b) => b.name)])).toEqual([[0, ['b1', 'b2']], [1, ['b3', 'b4']], [2, ['b5']]]);
    expect(sent[0]).toMatchObject({ kind: 'page', sweepId: 's1', account: A, buckets: [{ name: 'b1', region: 'eu-west-1' }, { name: 'b2' }] });
    expect(journal).toEqual(['send 3', `record account:${A} {"accountsDone":-1,"pagesAdded":3,"totals":{}}`]);
  });

  it('an account without buckets is counted with no pages', async () => {
    const { deps, journal } = fakes([[]]);
    await handleSweepMessage({ kind: 'account', sweepId: 's1', account: A }, deps);
    expect(journal).toEqual(['send 0', `record account:${A} {"accountsDone":-1,"pagesAdded":0,"totals":{}}`]);
  });

  it('an account whose role cannot be assumed is one ERROR finding for the whole account, counted as done', async () => {
    const { deps, journal, sent, findings } = fakes(new MemberRoleUnavailableError(A, `arn:aws:iam::${A}:role/s3-encryption-guard/m`, Object.assign(new Error('denied'), { name: 'AccessDenied' })));
    await handleSweepMessage({ kind: 'account', sweepId: 's1', account: A }, deps);
    expect(sent).toEqual([]);
    expect(findings).toEqual([expect.objectContaining({ bucket: '*', account: A, region: 'us-east-1', verdict: 'ERROR', action: 'SKIPPED', trigger: { type: 'sweep', sweepId: 's1' } })]);
    expect(journal).toEqual([`record account:${A} {"accountsDone":-1,"pagesAdded":0,"totals":{"unreachableAccounts":1,"verdicts":{"ERROR":1},"actions":{"SKIPPED":1},"logged":1}}`]);
  });

  it('any other listing failure is thrown, so the account message comes back and nothing is counted', async () => {
    const { deps, journal } = fakes(Object.assign(new Error('slow down'), { name: 'SlowDown' }));
    await expect(handleSweepMessage({ kind: 'account', sweepId: 's1', account: A }, deps)).rejects.toThrow('slow down');
    expect(journal).toEqual([]);
  });

  it('a page message evaluates its buckets in their account and adds the page\'s counts', async () => {
    const { deps, journal, findings } = fakes([]);
    await handleSweepMessage({ kind: 'page', sweepId: 's1', account: A, page: 4, buckets: [{ name: 'b1' }, { name: 'b2', region: 'eu-west-1' }] }, deps);
    expect(findings.map((f) => [f.bucket, f.account, f.region])).toEqual([['b1', A, 'us-east-1'], ['b2', A, 'eu-west-1']]);
    expect(journal).toHaveLength(1);
    expect(JSON.parse(journal[0]!.replace(`record page:${A}:4 `, ''))).toEqual({
      accountsDone: 0, pagesAdded: -1,
      totals: { pages: 1, buckets: 2, verdicts: { COMPLIANT: 2 }, actions: { NONE: 2 }, warnings: {}, retryLater: 0, notFound: 0, logged: 0 },
    });
  });
});
