import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import type { Finding } from '../../lib/finding';
import {
  batches, createFindingEventPublisher, entrySize, FINDING_EVENT_DETAIL_TYPE, FINDING_EVENT_SOURCE, FINDING_EVENTS_NOT_PUBLISHED,
  findingEvent, MAX_ENTRIES_PER_REQUEST, MAX_REQUEST_BYTES, needsAttention,
} from '../../lib/finding-events';
import { createTelemetrySink } from '../../lib/telemetry';
import { ACCOUNT, REGION } from './fixtures';

const events = mockClient(EventBridgeClient);

const finding = (bucket: string, verdict: Finding['verdict'], action: Finding['action'], extra: Partial<Finding> = {}): Finding => ({
  schemaVersion: 1, bucket, account: ACCOUNT, region: REGION,
  trigger: { type: 'event', eventName: 'CreateBucket', eventId: `e-${bucket}`, actor: `arn:aws:iam::${ACCOUNT}:user/alice` },
  mode: 'SSE_S3', modeSource: 'account', verdict,
  violations: verdict === 'COMPLIANT' || verdict === 'EXEMPT' ? [] : [{ code: 'NO_DEFAULT_ENCRYPTION', severity: 'violation', detail: 'no default encryption' }],
  action, before: null, durationMs: 5, ...extra,
});

/** The findings the guard produces, by verdict and action; `attention` says whether users must hear of it. */
const CASES: ReadonlyArray<{ name: string; finding: Finding; attention: boolean }> = [
  { name: 'NONCOMPLIANT, REMEDIATED', finding: finding('remediated', 'NONCOMPLIANT', 'REMEDIATED', { plan: { algorithm: 'AES256' }, after: { algorithm: 'AES256' } }), attention: true },
  { name: 'NONCOMPLIANT, WOULD_REMEDIATE (dry run)', finding: finding('dry-run', 'NONCOMPLIANT', 'WOULD_REMEDIATE', { plan: { algorithm: 'AES256' } }), attention: true },
  { name: 'NONCOMPLIANT, SKIPPED (report only)', finding: finding('reported', 'NONCOMPLIANT', 'SKIPPED'), attention: true },
  { name: 'ERROR, SKIPPED (foreign key)', finding: finding('foreign-key', 'ERROR', 'SKIPPED'), attention: true },
  { name: 'ERROR, FAILED (write denied)', finding: finding('denied', 'ERROR', 'FAILED'), attention: true },
  { name: 'COMPLIANT', finding: finding('fine', 'COMPLIANT', 'NONE'), attention: false },
  { name: 'EXEMPT', finding: finding('exempt', 'EXEMPT', 'NONE', { exemptReason: 'tag encryption-guard:exempt=true' }), attention: false },
  { name: 'EXEMPT, SKIPPED (bucket gone)', finding: finding('gone', 'EXEMPT', 'SKIPPED'), attention: false },
];

const sentEntries = (): PutEventsRequestEntry[] => events.commandCalls(PutEventsCommand).flatMap((call) => call.args[0].input.Entries ?? []);
const sentDetails = (): Array<Record<string, unknown>> => sentEntries().map((entry) => JSON.parse(entry.Detail ?? '{}') as Record<string, unknown>);

const publisher = () => {
  const errors: Array<{ message: string; details: Record<string, unknown> }> = [];
  const publish = createFindingEventPublisher(() => new EventBridgeClient({ region: REGION }), { error: (message, details) => errors.push({ message, details }) });
  return { publish, errors };
};

/** PutEvents that accepts every entry. */
const acceptAll = (): void => {
  events.on(PutEventsCommand).callsFake(async (input: { Entries: unknown[] }) => ({ FailedEntryCount: 0, Entries: input.Entries.map((_, index) => ({ EventId: `id-${index}` })) }));
};

beforeEach(() => {
  events.reset();
  acceptAll();
});

describe('which findings become events', () => {
  it.each(CASES)('$name: attention = $attention', ({ finding: f, attention }) => {
    expect(needsAttention(f)).toBe(attention);
  });
});

describe('the telemetry sink publishes findings that need attention', () => {
  it.each(CASES.filter((c) => c.attention))('publishes $name to the default bus as a "Bucket Encryption Finding" whose detail is the finding', async ({ finding: f }) => {
    const { publish } = publisher();
    const sink = createTelemetrySink(publish);
    sink.finding(f);
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0); // buffered until flush
    await sink.flush();
    expect(sentEntries()).toEqual([{ Source: 's3-encryption-guard', DetailType: 'Bucket Encryption Finding', Detail: JSON.stringify(f) }]);
    expect(sentEntries()[0]).not.toHaveProperty('EventBusName'); // the default bus
  });

  it.each(CASES.filter((c) => !c.attention))('does not publish $name', async ({ finding: f }) => {
    const { publish } = publisher();
    const sink = createTelemetrySink(publish);
    sink.finding(f);
    await sink.flush();
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('publishes a finding the sweep does not log (log = false) when it needs attention', async () => {
    const { publish } = publisher();
    const sink = createTelemetrySink(publish);
    sink.finding(CASES[0].finding, false);
    await sink.flush();
    expect(sentDetails().map((detail) => detail.bucket)).toEqual(['remediated']);
  });

  it('sends each finding once: a second flush has nothing to send', async () => {
    const { publish } = publisher();
    const sink = createTelemetrySink(publish);
    for (const { finding: f } of CASES) sink.finding(f);
    await sink.flush();
    await sink.flush();
    expect(sentDetails().map((detail) => detail.bucket).sort()).toEqual(CASES.filter((c) => c.attention).map((c) => c.finding.bucket).sort());
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(1);
  });

  it('uses the names the README documents', () => {
    expect([FINDING_EVENT_SOURCE, FINDING_EVENT_DETAIL_TYPE]).toEqual(['s3-encryption-guard', 'Bucket Encryption Finding']);
  });
});

describe('batching and size limits', () => {
  it('sends at most 10 entries per PutEvents request', async () => {
    const { publish } = publisher();
    for (let index = 0; index < 23; index += 1) publish.add(finding(`bucket-${index}`, 'NONCOMPLIANT', 'REMEDIATED'));
    await publish.flush();
    expect(events.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries?.length)).toEqual([10, 10, 3]);
    expect(new Set(sentDetails().map((detail) => detail.bucket)).size).toBe(23);
  });

  it('keeps every request under 256 KB, counted as EventBridge counts entries', () => {
    const big = (index: number) => ({ entry: { Source: 's', DetailType: 'd', Detail: 'x'.repeat(100 * 1024 + index) } });
    const requests = batches(Array.from({ length: 5 }, (_, index) => big(index)));
    expect(requests.map((request) => request.length)).toEqual([2, 2, 1]);
    for (const request of requests) {
      expect(request.reduce((sum, item) => sum + entrySize(item.entry), 0)).toBeLessThan(MAX_REQUEST_BYTES);
      expect(request.length).toBeLessThanOrEqual(MAX_ENTRIES_PER_REQUEST);
    }
  });

  it('counts an entry in UTF-8 bytes, Time as 14', () => {
    expect(entrySize({ Source: 'ab', DetailType: 'é', Detail: '{"a":"€"}', Resources: ['r'], Time: new Date() })).toBe(14 + 2 + 2 + 11 + 1);
  });

  it('publishes an oversized finding without its rules and policies, saying what it left out, rather than dropping it', () => {
    const policy = { Version: '2012-10-17', Statement: [{ Sid: 'Big', Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'x'.repeat(300 * 1024) }] };
    const oversized = finding('huge-policy', 'NONCOMPLIANT', 'REMEDIATED', { policyBefore: policy, policyAfter: policy, plan: { algorithm: 'AES256' } });
    const entry = findingEvent(oversized);
    expect(entry).toBeDefined();
    expect(entrySize(entry as PutEventsRequestEntry)).toBeLessThan(MAX_REQUEST_BYTES);
    const detail = JSON.parse((entry as PutEventsRequestEntry).Detail ?? '{}') as Record<string, unknown>;
    expect(detail).toMatchObject({ bucket: 'huge-policy', verdict: 'NONCOMPLIANT', action: 'REMEDIATED', violations: oversized.violations, trigger: oversized.trigger });
    expect(detail.omitted).toEqual(expect.arrayContaining(['before', 'plan', 'policyBefore', 'policyAfter']));
    expect(detail).not.toHaveProperty('policyBefore');
  });

  it('shortens violation details when even the essentials are too large', () => {
    const detail = 'd'.repeat(300 * 1024);
    const entry = findingEvent(finding('long-detail', 'ERROR', 'FAILED', { violations: [{ code: 'WRITE_FAILED', severity: 'violation', detail }] }));
    expect(entry).toBeDefined();
    const parsed = JSON.parse((entry as PutEventsRequestEntry).Detail ?? '{}') as Finding;
    expect(parsed.violations[0].code).toBe('WRITE_FAILED');
    expect(parsed.violations[0].detail.length).toBeLessThan(2048);
  });

  it('publishes a normal finding whole, with no `omitted`', () => {
    expect(JSON.parse(findingEvent(CASES[0].finding)?.Detail ?? '{}')).toEqual(CASES[0].finding);
  });
});

describe('failures are logged, never thrown', () => {
  it('sends entries EventBridge failed once more, and logs those that fail again with the reason', async () => {
    events.on(PutEventsCommand).callsFake(async (input: { Entries: Array<{ Detail: string }> }) => ({
      FailedEntryCount: 1,
      Entries: input.Entries.map((entry, index) => (JSON.parse(entry.Detail).bucket === 'stuck'
        ? { ErrorCode: 'InternalFailure', ErrorMessage: 'simulated' } : { EventId: `id-${index}` })),
    }));
    const { publish, errors } = publisher();
    publish.add(finding('fine-one', 'NONCOMPLIANT', 'REMEDIATED'));
    publish.add(finding('stuck', 'ERROR', 'FAILED'));
    await expect(publish.flush()).resolves.toBeUndefined();
    const calls = events.commandCalls(PutEventsCommand);
    expect(calls).toHaveLength(2);
    expect(calls[1].args[0].input.Entries?.map((entry) => JSON.parse(entry.Detail ?? '{}').bucket)).toEqual(['stuck']);
    expect(errors).toEqual([{ message: FINDING_EVENTS_NOT_PUBLISHED, details: { count: 1, findings: [{ bucket: 'stuck', verdict: 'ERROR', action: 'FAILED', error: 'InternalFailure: simulated' }] } }]);
  });

  it('logs nothing when the second attempt succeeds', async () => {
    let attempt = 0;
    events.on(PutEventsCommand).callsFake(async (input: { Entries: unknown[] }) => {
      attempt += 1;
      return attempt === 1
        ? { FailedEntryCount: 1, Entries: [{ ErrorCode: 'ThrottlingException', ErrorMessage: 'slow down' }] }
        : { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'id' })) };
    });
    const { publish, errors } = publisher();
    publish.add(finding('throttled', 'NONCOMPLIANT', 'REMEDIATED'));
    await publish.flush();
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(2);
    expect(errors).toEqual([]);
  });

  it('logs every finding of a request EventBridge refused (e.g. no permission), and goes on with the next request', async () => {
    let call = 0;
    events.on(PutEventsCommand).callsFake(async (input: { Entries: unknown[] }) => {
      call += 1;
      if (call === 1) throw Object.assign(new Error('not authorized to perform events:PutEvents'), { name: 'AccessDeniedException' });
      return { FailedEntryCount: 0, Entries: input.Entries.map(() => ({ EventId: 'id' })) };
    });
    const { publish, errors } = publisher();
    for (let index = 0; index < 12; index += 1) publish.add(finding(`bucket-${index}`, 'ERROR', 'FAILED'));
    await expect(publish.flush()).resolves.toBeUndefined();
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(2);
    expect(errors).toHaveLength(1);
    expect(errors[0].details.count).toBe(10);
    expect((errors[0].details.findings as Array<{ error: string }>)[0].error).toBe('AccessDeniedException: not authorized to perform events:PutEvents');
  });

  it('logs, and does not throw, when no client can be created', async () => {
    const errors: string[] = [];
    const publish = createFindingEventPublisher(() => { throw new Error('no region'); }, { error: (message) => errors.push(message) });
    publish.add(finding('a', 'ERROR', 'FAILED'));
    await expect(publish.flush()).resolves.toBeUndefined();
    expect(errors).toEqual([FINDING_EVENTS_NOT_PUBLISHED]);
  });

  it('makes no call when nothing needs attention', async () => {
    const { publish } = publisher();
    publish.add(CASES.find((c) => c.name === 'COMPLIANT')?.finding as Finding);
    await publish.flush();
    expect(events.commandCalls(PutEventsCommand)).toHaveLength(0);
  });
});
