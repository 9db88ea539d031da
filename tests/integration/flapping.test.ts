/**
 * Flap protection against the emulator: the ledger table in DynamoDB, real SDK clients, the real handler.
 */
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DeleteBucketEncryptionCommand } from '@aws-sdk/client-s3';
import { createBucketEventHandler } from '../../handlers/bucket-event';
import type { Finding } from '../../lib/finding';
import { createFlapLedger } from '../../lib/flap-ledger';
import type { FindingSink, NotEvaluated } from '../../lib/telemetry';
import { useEmulator } from '../emulator-env';
import { admin, emulatorGuard, REGION, serialisedDynamoDb, uniqueBucket } from './aws';

const ACCOUNT = '123456789012';
const ROGUE = `arn:aws:sts::${ACCOUNT}:assumed-role/legacy-deployer/nightly`;
const aws = admin();
const dynamodb = new DynamoDBClient({ region: REGION, endpoint: useEmulator() });
let table: string;

beforeAll(async () => {
  table = uniqueBucket('flap-ledger');
  await dynamodb.send(new CreateTableCommand({
    TableName: table, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'bucket', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'bucket', KeyType: 'HASH' }],
  }));
});

/** The other actor's DeleteBucketEncryption, made `minutesAgo` (a fight's rounds lie a settle window apart at least). */
const eventFor = (bucket: string, eventId: string, minutesAgo = 0) => ({
  version: '0', id: eventId, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: ACCOUNT, region: REGION, time: new Date().toISOString(), resources: [],
  detail: {
    eventVersion: '1.09', eventSource: 's3.amazonaws.com', eventName: 'DeleteBucketEncryption', awsRegion: REGION, eventID: eventId, readOnly: false,
    eventTime: new Date(Date.now() - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
    userIdentity: { type: 'AssumedRole', arn: ROGUE }, requestParameters: { bucketName: bucket }, recipientAccountId: ACCOUNT,
  },
});

const handlerWith = (threshold = '3') => {
  const settings = { FLAP_TABLE: table, FLAP_THRESHOLD: threshold, FLAP_WINDOW_MINUTES: '60' };
  const base = emulatorGuard(settings);
  const ledgerClient = serialisedDynamoDb();
  const guard = { ...base, ledger: createFlapLedger(() => ledgerClient, table, 60 * 60_000) };
  const findings: Finding[] = [];
  const duplicates: NotEvaluated[] = [];
  const sink: FindingSink = { finding: (f) => findings.push(f), ignored: () => undefined, notEvaluated: (what) => duplicates.push(what), retrying: () => undefined, flush: async () => undefined };
  return { guard, findings, duplicates, handle: createBucketEventHandler(guard, sink) };
};
const entriesOf = async (bucket: string) =>
  (await dynamodb.send(new GetItemCommand({ TableName: table, Key: { bucket: { S: bucket } }, ConsistentRead: true }))).Item?.entries?.L ?? [];

describe('flap protection against the emulator', () => {
  it('20 concurrent deliveries of the same event end in one compliant state, one remediation, and no misleading finding', async () => {
    const bucket = uniqueBucket('dup-delivery');
    await aws.createBucket(bucket);
    const { guard, findings, duplicates, handle } = handlerWith();
    await Promise.all(Array.from({ length: 20 }, () => handle(eventFor(bucket, 'evt-the-same-one'), {})));
    // The winner logs REMEDIATED; a loser logs a short "duplicate delivery" line, or (if it read after the
    // write) the truth: COMPLIANT. None lists the bucket as non-compliant.
    expect(findings.filter((f) => f.action === 'REMEDIATED')).toHaveLength(1);
    expect(findings.filter((f) => f.action !== 'REMEDIATED').every((f) => f.verdict === 'COMPLIANT')).toBe(true);
    expect(findings.length + duplicates.length).toBe(20);
    expect(duplicates.every((d) => d.kind === 'duplicate')).toBe(true);
    expect(guard.calls['S3.PutBucketEncryption']).toBe(1);
    expect((await aws.encryptionOf(bucket))?.algorithm).toBe('AES256');
    expect(await entriesOf(bucket)).toHaveLength(1);
  });

  it('a fight with another actor stops at the threshold with a FLAPPING finding, and the bucket is left alone after it', async () => {
    const bucket = uniqueBucket('fight');
    await aws.createBucket(bucket);
    const { findings, handle } = handlerWith();
    for (let round = 1; round <= 5; round++) {
      await aws.s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket })); // the other actor reverts
      await handle(eventFor(bucket, `evt-round-${round}`), {}); // each change made after the guard's last write
    }
    expect(findings.map((f) => f.action)).toEqual(['REMEDIATED', 'REMEDIATED', 'REMEDIATED', 'SKIPPED', 'SKIPPED']);
    expect(findings[3].violations.at(-1)).toMatchObject({ code: 'FLAPPING', severity: 'violation', detail: expect.stringContaining(`has undone 3 separate changes by ${ROGUE} (3 writes); this change, the 4th`) });
    expect(await entriesOf(bucket)).toHaveLength(3); // the skipped attempts are not counted
    expect(await aws.encryptionOf(bucket)).toBeUndefined(); // left as the other actor set it
  });

  it('the ledger drops entries that no longer count (older than the window) once the list grows, in DynamoDB\'s own expressions', async () => {
    const bucket = uniqueBucket('long-fight');
    const windowMs = 50; // entries leave the window almost at once
    const ledger = createFlapLedger(() => dynamodb, table, windowMs);
    for (let i = 0; i < 45; i++) {
      await ledger.recordWrite(bucket, { at: Date.now(), eventId: `evt-${i}`, actor: ROGUE, changedAt: Date.now() - 1000, setting: 'encryption' });
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
    expect((await entriesOf(bucket)).length).toBeLessThanOrEqual(41);
    await expect(ledger.claim(bucket, 'evt-x', Date.now(), 'run-1')).resolves.toMatchObject({ status: 'claimed' });
    await expect(ledger.claim(bucket, 'evt-x', Date.now(), 'run-2')).resolves.toEqual({ status: 'duplicate' });
    // The SDK's retry of a claim that had landed is the claimer's own (ReturnValuesOnConditionCheckFailure).
    await expect(ledger.claim(bucket, 'evt-x', Date.now(), 'run-1')).resolves.toMatchObject({ status: 'claimed' });
  });

  it('without a reachable table the guard still enforces, and says so', async () => {
    const bucket = uniqueBucket('no-ledger');
    await aws.createBucket(bucket);
    const guard = emulatorGuard({ FLAP_TABLE: 'no-such-table' });
    const findings: Finding[] = [];
    await createBucketEventHandler(guard, { finding: (f) => findings.push(f), ignored: () => undefined, notEvaluated: () => undefined, retrying: () => undefined, flush: async () => undefined })(eventFor(bucket, 'evt-x'), {});
    expect(findings[0]).toMatchObject({ action: 'REMEDIATED', violations: expect.arrayContaining([expect.objectContaining({ code: 'LEDGER_UNAVAILABLE' })]) });
  });
});
