/**
 * The exposure window: how long a weakening change stayed in place, from CloudTrail's eventTime to the
 * guard's start (detection) and to the verified fix (exposure), and how it reaches the EMF metrics.
 */
import { GetBucketEncryptionCommand, GetBucketTaggingCommand, PutBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { enforceBucket, type EnforceRequest, findingOf } from '../../lib/enforce';
import { eventTimeMs, exposureOf } from '../../lib/exposure';
import type { Finding, Trigger } from '../../lib/finding';
import { createTelemetrySink, metrics, metricsFor, timingsFor } from '../../lib/telemetry';
import { s3Error, testGuard } from './aws-mocks';
import { ACCOUNT, config, REGION } from './fixtures';

const CHANGED = '2026-03-02T09:14:06.000Z';
const CHANGED_MS = Date.parse(CHANGED);
const event = (eventTime?: string): Trigger => ({ type: 'event', eventName: 'PutBucketEncryption', eventId: 'e-1', ...(eventTime === undefined ? {} : { eventTime }) });

describe('exposureOf', () => {
  it('measures detection from the change to the guard\'s start, and exposure from the change to the verified fix', () => {
    expect(exposureOf(event(CHANGED), CHANGED_MS + 65_000, CHANGED_MS + 65_120, true)).toEqual({ detectedAfterMs: 65_000, exposureMs: 65_120 });
  });

  it('gives no exposure when the guard did not fix the bucket (or its fix is not verified yet): only the detection lag', () => {
    expect(exposureOf(event(CHANGED), CHANGED_MS + 61_000, CHANGED_MS + 61_050, false)).toEqual({ detectedAfterMs: 61_000 });
  });

  it('clamps at 0 when the event time is after the guard\'s start (clock skew), and says by how much', () => {
    expect(exposureOf(event(CHANGED), CHANGED_MS - 1_500, CHANGED_MS - 1_400, true)).toEqual({ detectedAfterMs: 0, exposureMs: 0, clockSkewMs: 1_500 });
    // A skew smaller than the fix's own duration leaves a positive exposure.
    expect(exposureOf(event(CHANGED), CHANGED_MS - 100, CHANGED_MS + 300, true)).toEqual({ detectedAfterMs: 0, exposureMs: 300, clockSkewMs: 100 });
  });

  it('gives no figures without an event time, or with one that is not a time', () => {
    expect(exposureOf(event(), CHANGED_MS, CHANGED_MS, true)).toEqual({});
    expect(exposureOf(event('not a time'), CHANGED_MS, CHANGED_MS, true)).toEqual({});
    expect(eventTimeMs('2026-13-45T99:00:00Z')).toBeUndefined();
  });

  it('gives no figures for the sweep: no change started its work', () => {
    expect(exposureOf({ type: 'sweep', sweepId: 's-1' }, CHANGED_MS, CHANGED_MS, true)).toEqual({});
  });
});

describe('the exposure fields of a finding (enforceBucket)', () => {
  const s3 = mockClient(S3Client);
  afterAll(() => s3.restore());

  /** A bucket without a rule, fixed by the guard; the clock advances 40 ms per reading. */
  const run = async (trigger: Trigger, startMs: number, current?: object): Promise<Finding> => {
    s3.reset();
    let rule = current;
    s3.on(GetBucketEncryptionCommand).callsFake(async () => {
      if (!rule) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
      return rule;
    });
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
    s3.on(PutBucketEncryptionCommand).callsFake(async (input) => { rule = { ServerSideEncryptionConfiguration: input.ServerSideEncryptionConfiguration }; return {}; });
    let clock = startMs;
    const request: EnforceRequest = { bucket: 'app-data', region: REGION, accountId: ACCOUNT, trigger };
    return findingOf(await enforceBucket(request, { ...testGuard(config()), now: () => { const at = clock; clock += 40; return at; } }));
  };

  it('carries detectedAfterMs and exposureMs when the guard remediated the bucket', async () => {
    const finding = await run(event(CHANGED), CHANGED_MS + 60_000);
    expect(finding.action).toBe('REMEDIATED');
    expect(finding).toMatchObject({ detectedAfterMs: 60_000, exposureMs: 60_000 + finding.durationMs });
    expect(finding.exposureMs).toBeGreaterThan(finding.detectedAfterMs!);
  });

  it('carries only detectedAfterMs when the bucket was already compliant', async () => {
    const finding = await run(event(CHANGED), CHANGED_MS + 60_000, { ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    expect(finding.action).toBe('NONE');
    expect(finding.detectedAfterMs).toBe(60_000);
    expect(finding).not.toHaveProperty('exposureMs');
  });

  it('carries none for a sweep', async () => {
    const finding = await run({ type: 'sweep', sweepId: 's-1' }, CHANGED_MS);
    expect(finding.action).toBe('REMEDIATED');
    expect(finding).not.toHaveProperty('detectedAfterMs');
    expect(finding).not.toHaveProperty('exposureMs');
  });
});

describe('the exposure metrics in the EMF output', () => {
  afterEach(() => metrics.clearMetrics());

  type Emf = { _aws: { CloudWatchMetrics: Array<{ Metrics: Array<{ Name: string; Unit: string }> }> } } & Record<string, unknown>;
  const base: Finding = {
    schemaVersion: 1, bucket: 'b', account: ACCOUNT, region: REGION, trigger: event(CHANGED), verdict: 'NONCOMPLIANT', violations: [], action: 'REMEDIATED', durationMs: 90,
  };

  it('reports DetectionLag and ExposureWindow in milliseconds, one value per finding', () => {
    const sink = createTelemetrySink();
    sink.finding({ ...base, detectedAfterMs: 61_000, exposureMs: 61_090 }, false);
    sink.finding({ ...base, bucket: 'c', action: 'NONE', verdict: 'COMPLIANT', detectedAfterMs: 75_000 }, false);
    const emf = metrics.serializeMetrics() as unknown as Emf;
    const units = Object.fromEntries(emf._aws.CloudWatchMetrics[0].Metrics.map((metric) => [metric.Name, metric.Unit]));
    expect(units).toMatchObject({ DetectionLag: 'Milliseconds', ExposureWindow: 'Milliseconds' });
    expect(emf.DetectionLag).toEqual([61_000, 75_000]);
    expect(emf.ExposureWindow).toBe(61_090);
  });

  it('emits no timing for findings without exposure fields (sweeps, events without a time)', () => {
    expect(timingsFor({})).toEqual([]);
    expect(timingsFor({ detectedAfterMs: 0 })).toEqual([['DetectionLag', 0]]);
  });

  it('counts SweepCatches for a non-compliant bucket the sweep found, and only then', () => {
    const sweep: Trigger = { type: 'sweep', sweepId: 's-1' };
    expect(metricsFor({ ...base, trigger: sweep })).toContain('SweepCatches');
    expect(metricsFor({ ...base, trigger: sweep, verdict: 'COMPLIANT', action: 'NONE' })).not.toContain('SweepCatches');
    expect(metricsFor({ ...base, trigger: sweep, verdict: 'ERROR', action: 'SKIPPED' })).not.toContain('SweepCatches');
    expect(metricsFor(base)).not.toContain('SweepCatches');
  });
});
