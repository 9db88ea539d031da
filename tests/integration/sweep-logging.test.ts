/**
 * Sweep logs that scale, against its own emulator: a few hundred compliant buckets whose report-only
 * guardrails leave warnings on every one. The warning memory lives in a DynamoDB table like the stack's
 * flap ledger. The first sweep logs each bucket's (new) warnings once; the next logs only the summary;
 * a bucket whose warnings change is logged again, alone.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateBucketCommand, PutBucketEncryptionCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import { createSweepHandler } from '../../handlers/sweep';
import { forEachLimit } from '../../lib/concurrency';
import { createGuard } from '../../lib/guard';
import type { SweepOutcome } from '../../lib/sweep';
import { createWarningMemory } from '../../lib/warning-memory';
import { type Emulator, emulatorEnv, startEmulator } from '../../scripts/emulator';
import { emulatorS3 } from '../../scripts/fleet';

const BUCKETS = 300;
const TABLE = 'guard-sweep-logging-flap-ledger';
let emulator: Emulator;
const names = Array.from({ length: BUCKETS }, (_, index) => `quiet-${String(index).padStart(5, '0')}`);

beforeAll(async () => {
  emulator = await startEmulator();
  const s3 = emulatorS3(emulator.endpoint);
  // Compliant (AES256), no policy, no Block Public Access: report-only guardrails warn on every bucket.
  await forEachLimit(names, 8, async (name) => {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  });
  const dynamodb = new DynamoDBClient({ region: 'us-east-1', endpoint: emulator.endpoint });
  await dynamodb.send(new CreateTableCommand({
    TableName: TABLE, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'bucket', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'bucket', KeyType: 'HASH' }],
  }));
}, 120_000);
afterAll(() => emulator?.stop());

describe('sweep logging against the emulator', () => {
  it('logs each bucket\'s warnings once, then only the summary, then only the bucket whose warnings changed', async () => {
    // The deployed defaults: publicAccessBlock and requireTls in report.
    const guard = createGuard({ ...process.env, ...emulatorEnv(emulator.endpoint), FLAP_TABLE: TABLE, SWEEP_CONCURRENCY: '8', PUBLIC_ACCESS_BLOCK: 'report', REQUIRE_TLS: 'report' });
    const problems: string[] = [];
    let logged: string[] = [];
    const lines: string[] = [];
    const run = createSweepHandler(guard, {
      finding: (f, log) => { if (log !== false) logged.push(f.bucket); }, ignored: () => undefined, retrying: () => undefined, notEvaluated: () => undefined, flush: async () => undefined,
    }, {
      handOver: async () => undefined,
      log: (message) => lines.push(message),
      warningMemory: createWarningMemory(() => guard.dynamodb(guard.homeRegion), TABLE, (problem) => problems.push(problem)),
    });
    const sweep = async () => {
      logged = [];
      const outcome = await run({}, { functionName: 'sweep', getRemainingTimeInMillis: () => 15 * 60_000 }) as SweepOutcome;
      if (outcome.status !== 'completed') throw new Error(`sweep ${outcome.status}`);
      return outcome.summary;
    };

    const first = await sweep();
    expect(first).toMatchObject({ buckets: BUCKETS, verdicts: { COMPLIANT: BUCKETS }, logged: BUCKETS, warnings: { PUBLIC_ACCESS_NOT_BLOCKED: BUCKETS, TLS_NOT_REQUIRED: BUCKETS } });
    expect(logged).toHaveLength(BUCKETS);

    const second = await sweep();
    expect(second).toMatchObject({ buckets: BUCKETS, verdicts: { COMPLIANT: BUCKETS }, logged: 0, warnings: { PUBLIC_ACCESS_NOT_BLOCKED: BUCKETS, TLS_NOT_REQUIRED: BUCKETS } });
    expect(logged).toEqual([]);
    expect(lines.filter((line) => line === 'sweep completed')).toHaveLength(2);
    // Batched: about one read per 100 buckets, and no write when nothing changed.
    expect(second.calls['DynamoDB.BatchGetItem']).toBe(Math.ceil(BUCKETS / 100));
    expect(second.calls['DynamoDB.BatchWriteItem']).toBeUndefined();

    // Someone requires TLS on one bucket: its warnings change, and only it is logged.
    const changed = names[42];
    await emulatorS3(emulator.endpoint).send(new PutBucketPolicyCommand({
      Bucket: changed,
      Policy: JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'OwnTls', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: [`arn:aws:s3:::${changed}`, `arn:aws:s3:::${changed}/*`], Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] }),
    }));
    const third = await sweep();
    expect(logged).toEqual([changed]);
    expect(third.warnings).toEqual({ PUBLIC_ACCESS_NOT_BLOCKED: BUCKETS, TLS_NOT_REQUIRED: BUCKETS - 1 });
    expect(problems).toEqual([]);
  }, 180_000);
});
