/**
 * `npm run sweep:local [-- <buckets>]`: a sweep against the local emulator. Seeds a fleet of buckets in
 * mixed states (default 50), runs the real `sweepBuckets` handler twice, and prints both summaries: the
 * first brings every bucket into line, the second writes nothing.
 */
import { emulatorEnv, startEmulator } from './emulator';
import { emulatorS3, seedFleet } from './fleet';
import type { SweepOutcome } from '../lib/sweep';

const main = async (): Promise<void> => {
  const count = Number(process.argv[2] ?? 50);
  if (!Number.isInteger(count) || count < 1) throw new Error(`usage: npm run sweep:local -- <number of buckets>, got "${process.argv[2]}"`);
  const emulator = await startEmulator();
  try {
    const fleet = await seedFleet(emulatorS3(emulator.endpoint), count, 'sweep-local');
    console.log(`Emulator at ${emulator.endpoint}: ${fleet.length} buckets (no rule, AES256, aws/s3, exempt, tagged SSE_KMS_AWS_MANAGED).`);
    Object.assign(process.env, emulatorEnv(emulator.endpoint), { POWERTOOLS_LOG_LEVEL: process.env.SWEEP_LOGS === 'true' ? 'INFO' : 'SILENT', POWERTOOLS_METRICS_DISABLED: 'true' });
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { handler } = require('../handlers/sweep') as { handler: (event: unknown, context: object) => Promise<SweepOutcome> };
    const context = { functionName: 'sweepBuckets-local', getRemainingTimeInMillis: () => 15 * 60_000 };
    for (const label of ['First sweep', 'Second sweep']) {
      const outcome = await handler({}, context);
      if (outcome.status !== 'completed') throw new Error(`sweep ${outcome.status}`);
      const { summary } = outcome;
      console.log(`\n${label}: ${summary.buckets} buckets on ${summary.pages} page(s) in ${summary.durationMs} ms`);
      console.log(`  verdicts: ${JSON.stringify(summary.verdicts)}`);
      console.log(`  actions:  ${JSON.stringify(summary.actions)}`);
      console.log(`  AWS calls: ${JSON.stringify(summary.calls)}`);
    }
  } finally {
    await emulator.stop();
  }
};

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
