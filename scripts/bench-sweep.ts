/**
 * `npm run bench:sweep [-- <buckets> <repeats> <rtt-ms>]`: sweep throughput on the local emulator. Seeds N
 * buckets (default 500) in mixed states, then for each concurrency level puts the fleet back in its seeded
 * state and times a full sweep (remediating 2 of every 5 buckets). Prints the median of the repeats
 * (default 3), buckets/second, AWS calls per bucket, and the speed-up over the sequential sweep measured in
 * this run. Absolute numbers are the emulator's (one Python process), not AWS's; the ratios are the point.
 * With <rtt-ms> (e.g. 10) the guard's calls go through a proxy that adds that round trip to each
 * (scripts/bench-proxy.ts): the network-bound case, where concurrency pays off.
 */
import { performance } from 'node:perf_hooks';
import { createSweepHandler } from '../handlers/sweep';
import { createGuard } from '../lib/guard';
import { type DelayProxy, startDelayProxy } from './bench-proxy';
import { emulatorEnv, startEmulator } from './emulator';
import { emulatorS3, resetFleet, seedFleet } from './fleet';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const LEVELS = [1, 4, 16, 32];
const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export interface SweepBenchRow {
  concurrency: number;
  seconds: number;
  bucketsPerSecond: number;
  callsPerBucket: number;
  speedup: number;
}

export const benchSweep = async (buckets: number, repeats: number, rttMs = 0): Promise<SweepBenchRow[]> => {
  const emulator = await startEmulator();
  let proxy: DelayProxy | undefined;
  try {
    // Seeding and resets go to the emulator directly; only the guard's own calls pay the round trip.
    proxy = rttMs > 0 ? await startDelayProxy(emulator.endpoint, rttMs) : undefined;
    const guardEndpoint = proxy?.endpoint ?? emulator.endpoint;
    Object.assign(process.env, emulatorEnv(emulator.endpoint)); // credentials and region for every client
    const s3 = emulatorS3(emulator.endpoint);
    const fleet = await seedFleet(s3, buckets, 'bench');
    const rows: SweepBenchRow[] = [];
    for (const concurrency of LEVELS) {
      const times: number[] = [];
      let calls = 0;
      for (let repeat = 0; repeat < repeats; repeat++) {
        await resetFleet(s3, fleet);
        const guard = createGuard({ ...process.env, ...emulatorEnv(guardEndpoint), SWEEP_CONCURRENCY: String(concurrency), POWERTOOLS_LOG_LEVEL: 'SILENT' });
        const sweep = createSweepHandler(guard, { finding: () => undefined, ignored: () => undefined, notEvaluated: () => undefined, retrying: () => undefined, flush: async () => undefined }, { handOver: async () => undefined, log: () => undefined });
        const started = performance.now();
        const outcome = await sweep({}, { functionName: 'bench', getRemainingTimeInMillis: () => 15 * 60_000 });
        times.push((performance.now() - started) / 1000);
        if (!('status' in outcome) || outcome.status !== 'completed' || outcome.summary.buckets !== buckets) throw new Error(`sweep did not cover the fleet: ${JSON.stringify(outcome)}`);
        calls = Object.values(guard.calls).reduce((sum, n) => sum + n, 0);
      }
      const seconds = median(times);
      rows.push({ concurrency, seconds, bucketsPerSecond: buckets / seconds, callsPerBucket: calls / buckets, speedup: rows.length ? rows[0].seconds / seconds : 1 });
    }
    return rows;
  } finally {
    await proxy?.close();
    await emulator.stop();
  }
};

export const printSweepRows = (buckets: number, rows: readonly SweepBenchRow[], rttMs = 0): void => {
  console.log(`Sweep of ${buckets} buckets${rttMs > 0 ? `, ${rttMs} ms simulated round trip per call` : ''} (median of repeats; baseline: concurrency 1)`);
  console.log('concurrency  seconds  buckets/s  calls/bucket  vs sequential');
  for (const row of rows) {
    console.log(`${String(row.concurrency).padStart(11)}  ${row.seconds.toFixed(2).padStart(7)}  ${row.bucketsPerSecond.toFixed(0).padStart(9)}  ${row.callsPerBucket.toFixed(2).padStart(12)}  ${`${row.speedup.toFixed(2)}x`.padStart(13)}`);
  }
};

if (require.main === module) {
  const buckets = Number(process.argv[2] ?? 500);
  const repeats = Number(process.argv[3] ?? 3);
  const rttMs = Number(process.argv[4] ?? 0);
  benchSweep(buckets, repeats, rttMs).then((rows) => printSweepRows(buckets, rows, rttMs), (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exitCode = 1;
  });
}
