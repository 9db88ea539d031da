/**
 * The sweep against its own emulator (other suites' buckets must not be swept): a few hundred buckets in
 * mixed states. The emulator returns no ContinuationToken, so continuation is covered by unit tests.
 */
import { createSweepHandler, type FannedOut } from '../../handlers/sweep';
import { callsSince } from '../../lib/aws-clients';
import { createGuard } from '../../lib/guard';
import type { SweepOutcome } from '../../lib/sweep';
import { type Emulator, emulatorEnv, startEmulator } from '../../scripts/emulator';
import { emulatorS3, type FleetBucket, seedFleet } from '../../scripts/fleet';

const BUCKETS = 300;
let emulator: Emulator;
let fleet: FleetBucket[];

beforeAll(async () => {
  emulator = await startEmulator();
  fleet = await seedFleet(emulatorS3(emulator.endpoint), BUCKETS, 'swept');
}, 120_000);
afterAll(() => emulator?.stop());

const completed = (outcome: SweepOutcome | FannedOut | { ignored: string }) => {
  if (!('status' in outcome) || outcome.status !== 'completed') throw new Error(`sweep did not complete: ${JSON.stringify(outcome)}`);
  return outcome.summary;
};

describe('sweepBuckets against the emulator', () => {
  it('brings every non-exempt bucket into line in one sweep, and a second sweep writes nothing', async () => {
    // Encryption only: report-only guardrails would give every bucket warnings (logged); they have their own suite.
    const guard = createGuard({
      ...process.env, ...emulatorEnv(emulator.endpoint), SWEEP_CONCURRENCY: '8',
      PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', DENY_WEAKER_UPLOADS: 'off',
    });
    const logged: string[] = [];
    const run = createSweepHandler(guard, { finding: (f, log) => { if (log !== false) logged.push(f.bucket); }, ignored: () => undefined, notEvaluated: () => undefined, retrying: () => undefined, flush: async () => undefined }, { handOver: async () => undefined, log: () => undefined });
    const context = { functionName: 'sweep', getRemainingTimeInMillis: () => 15 * 60_000 };

    const first = completed(await run({}, context));
    const exempt = fleet.filter((b) => b.state === 'exempt').length;
    const toFix = fleet.filter((b) => b.state === 'none' || b.state === 'tagged-aws-managed').length;
    expect(first).toMatchObject({ buckets: BUCKETS, pages: 1, retryLater: 0, verdicts: { EXEMPT: exempt, NONCOMPLIANT: toFix, COMPLIANT: BUCKETS - exempt - toFix }, actions: { REMEDIATED: toFix } });
    expect(first.calls['S3.PutBucketEncryption']).toBe(toFix);
    // Compliant buckets are counted, not logged — unless they carry a warning (aws:kms without a bucket key).
    const warned = fleet.filter((b) => b.state === 'aws-managed').length;
    expect(logged).toHaveLength(exempt + toFix + warned);

    const before = { ...guard.calls };
    const second = completed(await run({}, context));
    expect(second).toMatchObject({ buckets: BUCKETS, verdicts: { EXEMPT: exempt, COMPLIANT: BUCKETS - exempt } });
    expect(callsSince(guard.calls, before)['S3.PutBucketEncryption']).toBeUndefined();
  });
});
