import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { GetBucketEncryptionCommand, GetBucketTaggingCommand, ListBucketsCommand, PutBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { createSweepHandler, handler, type SweepRuntime } from '../../handlers/sweep';
import type { BucketPage } from '../../lib/bucket-state';
import type { Outcome } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import { newSweep, runSweep, type SweepDeps, type SweepOutcome, type SweepState } from '../../lib/sweep';
import type { FindingSink } from '../../lib/telemetry';
import { s3Error, testGuard } from './aws-mocks';
import { ACCOUNT, config, REGION } from './fixtures';

const finding = (bucket: string, verdict: Finding['verdict'] = 'COMPLIANT', action: Finding['action'] = 'NONE'): Finding => ({
  schemaVersion: 1, bucket, account: ACCOUNT, region: REGION, trigger: { type: 'sweep', sweepId: 's' }, verdict, violations: [], action, durationMs: 1,
});

/** Pages of bucket names, each page's token naming the next, as ListBuckets hands them out. */
const listing = (...pages: string[][]) => {
  const listed: (string | undefined)[] = [];
  const list = async function* (startToken?: string): AsyncGenerator<BucketPage> {
    for (let index = startToken ? Number(startToken.slice(1)) : 0; index < pages.length; index++) {
      listed.push(index === 0 ? undefined : `t${index}`);
      yield { buckets: pages[index].map((name) => ({ name })), ...(index + 1 < pages.length ? { nextToken: `t${index + 1}` } : {}) };
    }
  };
  return { list, listed };
};

/** A finding as enforceBucket returns it. */
const evaluated = (f: Finding): Outcome => ({ kind: 'finding', finding: f });

const deps = (pages: SweepDeps['pages'], overrides: Partial<SweepDeps> = {}) => {
  const recorded: { finding: Finding; logged: boolean }[] = [];
  const handedOver: SweepState[] = [];
  let pageFlushes = 0;
  const sweepDeps: SweepDeps = {
    settings: { pageSize: 2, concurrency: 2, maxHops: 5, logCompliant: false },
    pages,
    enforce: async (bucket) => evaluated(finding(bucket.name)),
    record: (f, logged) => recorded.push({ finding: f, logged }),
    notEvaluated: () => undefined,
    retrying: () => undefined,
    pageDone: async () => { pageFlushes += 1; },
    handOver: async (next) => { handedOver.push(next); },
    remainingMs: () => 10 * 60_000,
    now: () => 0,
    calls: {},
    ...overrides,
  };
  return { sweepDeps, recorded, handedOver, flushes: () => pageFlushes };
};

const summaryOf = (outcome: SweepOutcome) => {
  if (outcome.status !== 'completed') throw new Error(`sweep ${outcome.status}`);
  return outcome.summary;
};

describe('runSweep', () => {
  it('walks every page, evaluates every bucket, and sums the findings', async () => {
    const { list, listed } = listing(['a', 'b'], ['c', 'd'], ['e']);
    const { sweepDeps, recorded } = deps(list, {
      enforce: async (bucket) => evaluated(bucket.name === 'c' ? finding('c', 'NONCOMPLIANT', 'REMEDIATED') : finding(bucket.name)),
    });
    const summary = summaryOf(await runSweep(newSweep('s', 0), sweepDeps));
    expect(listed).toEqual([undefined, 't1', 't2']);
    expect(summary).toMatchObject({ sweepId: 's', hops: 1, pages: 3, buckets: 5, verdicts: { COMPLIANT: 4, NONCOMPLIANT: 1 }, actions: { NONE: 4, REMEDIATED: 1 }, retryLater: 0 });
    expect(recorded.map((r) => r.finding.bucket).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('logs only findings that are not compliant or carry warnings, unless SWEEP_LOG_COMPLIANT, and counts them all', async () => {
    const { list } = listing(['a', 'b', 'c']);
    const run = async (logCompliant: boolean) => {
      const { sweepDeps, recorded } = deps(list, {
        settings: { pageSize: 2, concurrency: 2, maxHops: 5, logCompliant },
        enforce: async (bucket) => evaluated(bucket.name === 'a' ? finding('a', 'NONCOMPLIANT', 'REMEDIATED')
          : bucket.name === 'c' ? { ...finding('c'), violations: [{ code: 'TLS_NOT_REQUIRED', severity: 'warning', detail: 'report only' }] }
            : finding('b')),
      });
      await runSweep(newSweep('s', 0), sweepDeps);
      return recorded.map((r) => `${r.finding.bucket}:${r.logged}`).sort();
    };
    expect(await run(false)).toEqual(['a:true', 'b:false', 'c:true']);
    expect(await run(true)).toEqual(['a:true', 'b:true', 'c:true']);
  });

  it('flushes metrics after every page, not only at the end', async () => {
    const { list } = listing(['a'], ['b'], ['c']);
    const { sweepDeps, flushes } = deps(list);
    await runSweep(newSweep('s', 0), sweepDeps);
    expect(flushes()).toBe(3);
  });

  it('never has more buckets in flight than the concurrency setting', async () => {
    const { list } = listing(Array.from({ length: 40 }, (_, i) => `b${i}`));
    let inFlight = 0;
    let peak = 0;
    const { sweepDeps } = deps(list, {
      settings: { pageSize: 40, concurrency: 3, maxHops: 5, logCompliant: false },
      enforce: async (bucket) => {
        peak = Math.max(peak, ++inFlight);
        await new Promise((resolve) => setTimeout(resolve, 1));
        inFlight -= 1;
        return evaluated(finding(bucket.name));
      },
    });
    expect(summaryOf(await runSweep(newSweep('s', 0), sweepDeps)).buckets).toBe(40);
    expect(peak).toBe(3);
  });

  it('goes on past a bucket whose evaluation fails, and counts it for later', async () => {
    const { list } = listing(['a', 'b', 'c']);
    const failed: string[] = [];
    const { sweepDeps } = deps(list, {
      enforce: async (bucket) => {
        if (bucket.name === 'b') throw s3Error('SlowDown', 503);
        return evaluated(finding(bucket.name));
      },
      retrying: (bucket) => failed.push(bucket),
    });
    const summary = summaryOf(await runSweep(newSweep('s', 0), sweepDeps));
    expect(summary).toMatchObject({ buckets: 3, retryLater: 1, verdicts: { COMPLIANT: 2 } });
    expect(failed).toEqual(['b']);
  });

  it('hands the next page\'s token and the totals to the next run before its time runs out', async () => {
    const { list, listed } = listing(['a', 'b'], ['c', 'd'], ['e']);
    let remaining = 10 * 60_000;
    const first = deps(list, { remainingMs: () => remaining, pageDone: async () => { remaining = 30_000; } });
    const outcome = await runSweep(newSweep('s', 0), first.sweepDeps);
    expect(outcome).toEqual({ status: 'continued', next: expect.objectContaining({ sweepId: 's', hop: 1, continuationToken: 't1' }) });
    expect(first.handedOver).toHaveLength(1);
    expect(listed).toEqual([undefined]); // the page after the token was not listed: no page skipped

    const handed = first.handedOver[0];
    expect(handed.totals).toMatchObject({ pages: 1, buckets: 2 });
    const second = deps(list);
    const summary = summaryOf(await runSweep(JSON.parse(JSON.stringify(handed)), second.sweepDeps));
    expect(summary).toMatchObject({ hops: 2, pages: 3, buckets: 5, verdicts: { COMPLIANT: 5 } });
    expect(listed).toEqual([undefined, 't1', 't2']);
  });

  it('keeps back twice its slowest page for the hand-over', async () => {
    const { list } = listing(['a'], ['b'], ['c']);
    let clock = 0;
    const { sweepDeps } = deps(list, {
      now: () => clock,
      enforce: async (bucket) => { clock += 200_000; return evaluated(finding(bucket.name)); },
      remainingMs: () => 900_000 - clock,
    });
    // After page 1 (200 s) 700 s remain > 400 s; after page 2, 500 s > 400 s; after page 3 it is done.
    expect(summaryOf(await runSweep(newSweep('s', 0), sweepDeps)).pages).toBe(3);
    clock = 0;
    const slow = deps(list, { now: () => clock, enforce: async (bucket) => { clock += 300_000; return evaluated(finding(bucket.name)); }, remainingMs: () => 900_000 - clock });
    expect((await runSweep(newSweep('s', 0), slow.sweepDeps)).status).toBe('continued'); // 600 s left < 2 × 300 s
  });

  it('stops at the hop limit with the state to resume from, instead of chaining forever', async () => {
    const { list } = listing(['a'], ['b']);
    const state: SweepState = { ...newSweep('s', 0), hop: 4, continuationToken: 't1' };
    const { sweepDeps, handedOver } = deps(list, { remainingMs: () => 1000 });
    const outcome = await runSweep(state, sweepDeps);
    expect(outcome).toMatchObject({ status: 'stopped', reason: expect.stringMatching(/hop limit 5/), next: { hop: 5, continuationToken: 't1' } });
    expect(handedOver).toHaveLength(0);
  });
});

describe('sweepBuckets handler', () => {
  const s3 = mockClient(S3Client);
  const lambda = mockClient(LambdaClient);
  const context = { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3-encryption-guard-dev-sweepBuckets`, getRemainingTimeInMillis: () => 10 * 60_000 };
  const sink = (): FindingSink & { ignored: jest.Mock } => ({ finding: jest.fn(), ignored: jest.fn(), notEvaluated: jest.fn(), retrying: jest.fn(), flush: async () => undefined });
  let listInputs: object[] = [];
  const runtime = (): SweepRuntime & { handOver: jest.Mock } => ({ handOver: jest.fn(), log: jest.fn() });

  beforeEach(() => {
    s3.reset();
    lambda.reset();
    let encrypted = new Set<string>();
    listInputs = [];
    s3.on(ListBucketsCommand).callsFake(async (input) => (listInputs.push({ ...input }), input.ContinuationToken === 'page-2'
      ? { Buckets: [{ Name: 'c-bucket', BucketRegion: REGION }] }
      : { Buckets: [{ Name: 'a-bucket', BucketRegion: REGION }, { Name: 'b-bucket', BucketRegion: REGION }], ContinuationToken: 'page-2' }));
    s3.on(GetBucketEncryptionCommand).callsFake(async (input) => {
      if (!encrypted.has(input.Bucket!)) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
      return { ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } };
    });
    s3.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404));
    s3.on(PutBucketEncryptionCommand).callsFake(async (input) => { encrypted.add(input.Bucket!); return {}; });
    encrypted = new Set();
  });

  it('lists the buckets of its own region, page by page, and enforces each', async () => {
    const run = createSweepHandler(testGuard(config()), sink(), runtime());
    const outcome = await run({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, context);
    expect(outcome).toMatchObject({ status: 'completed', summary: { pages: 2, buckets: 3, actions: { REMEDIATED: 3 } } });
    expect(listInputs).toEqual([
      { BucketRegion: REGION, MaxBuckets: 1000 },
      { BucketRegion: REGION, MaxBuckets: 1000, ContinuationToken: 'page-2' },
    ]);
  });

  it('writes nothing when the same pages are swept again', async () => {
    const run = createSweepHandler(testGuard(config()), sink(), runtime());
    await run({}, context);
    const writes = s3.commandCalls(PutBucketEncryptionCommand).length;
    const again = await run({}, context);
    expect(again).toMatchObject({ status: 'completed', summary: { buckets: 3, verdicts: { COMPLIANT: 3 } } });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(writes);
  });

  it('starts after a successful deploy of the stack, not on other status changes', async () => {
    const events = sink();
    const run = createSweepHandler(testGuard(config()), events, runtime());
    const stackEvent = (status: string) => ({ source: 'aws.cloudformation', 'detail-type': 'CloudFormation Stack Status Change', detail: { 'status-details': { status } } });
    expect(await run(stackEvent('UPDATE_IN_PROGRESS'), context)).toEqual({ ignored: 'stack status UPDATE_IN_PROGRESS does not start a sweep' });
    expect(s3.calls()).toHaveLength(0);
    expect(await run(stackEvent('UPDATE_COMPLETE'), context)).toMatchObject({ status: 'completed' });
  });

  it.each([
    [{ sweep: null }],
    [{ sweep: { sweepId: '../../etc', hop: 1, startedAt: 0, totals: {} } }],
    [{ sweep: { sweepId: 's', hop: -1, startedAt: 0, totals: {} } }],
    [{ sweep: { sweepId: 's', hop: 1, startedAt: 0, totals: {}, continuationToken: 42 } }],
  ])('ignores a malformed continuation %j without an AWS call', async (event) => {
    const events = sink();
    expect(await createSweepHandler(testGuard(config()), events, runtime())(event, context)).toEqual({ ignored: 'malformed sweep continuation' });
    expect(s3.calls()).toHaveLength(0);
  });

  it('continues itself with an asynchronous invocation carrying the sweep state', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 202 });
    const outcome = await handler({}, { ...context, getRemainingTimeInMillis: () => 30_000 });
    expect(outcome).toMatchObject({ status: 'continued', next: { hop: 1 } });
    const invoke = lambda.commandCalls(InvokeCommand)[0].args[0].input;
    expect(invoke).toMatchObject({ FunctionName: context.invokedFunctionArn, InvocationType: 'Event' });
    expect(JSON.parse(Buffer.from(invoke.Payload as Uint8Array).toString())).toEqual({ sweep: expect.objectContaining({ hop: 1, sweepId: expect.any(String) }) });
  });
});
