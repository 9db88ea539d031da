import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetBucketEncryptionCommand, GetBucketTaggingCommand, PutBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { enforceBucket, findingOf, type EnforceRequest } from '../../lib/enforce';
import { createFlapLedger, fightsIn, flapState, LEASE_MS, type LedgerEntry, MAX_ENTRIES } from '../../lib/flap-ledger';
import { metricsFor } from '../../lib/telemetry';
import { s3Error, testGuard } from './aws-mocks';
import { ACCOUNT, config, REGION } from './fixtures';

const dynamodb = mockClient(DynamoDBClient);
const s3 = mockClient(S3Client);
const HOUR = 3_600_000;
const NOW = 1_800_000_000_000;
const client = new DynamoDBClient({ region: REGION, maxAttempts: 1 });
const ledger = createFlapLedger(() => client, 'ledger', HOUR);
const item = (entries: LedgerEntry[]) => ({
  bucket: { S: 'app-data' },
  entries: { L: entries.map((e) => ({ M: { at: { N: String(e.at) }, eventId: { S: e.eventId }, actor: { S: e.actor }, ...(e.changedAt ? { changedAt: { N: String(e.changedAt) } } : {}) } })) },
});
const TERRAFORM = 'arn:aws:sts::123456789012:assumed-role/terraform/run';
const entry = (minutesAgo: number, eventId = `e-${minutesAgo}`): LedgerEntry => ({ at: NOW - minutesAgo * 60_000, eventId, actor: TERRAFORM });

beforeEach(() => {
  dynamodb.reset();
  s3.reset();
});

const fight = (actor: string, ...changesMinutesAgo: number[]): LedgerEntry[] =>
  changesMinutesAgo.map((minutesAgo, i) => ({ at: NOW - minutesAgo * 60_000 + 60_000, eventId: `${actor}-${minutesAgo}-${i}`, actor, changedAt: NOW - minutesAgo * 60_000 }));
const DEPLOYER = 'arn:aws:sts::123456789012:assumed-role/ci-deployer/apply';
const SETTLE = 60_000;
const state = (entries: LedgerEntry[], undoing?: { actor: string; minutesAgo: number }) => flapState({
  entries, now: NOW, windowMs: HOUR, collapseMs: SETTLE, threshold: 3,
  ...(undoing ? { undoing: { actor: undoing.actor, changedAt: NOW - undoing.minutesAgo * 60_000 } } : {}),
});

describe('flap arithmetic (pure)', () => {
  it('one actor\'s changes within the settle window are one change, however many writes undid them', () => {
    // One terraform apply: encryption, policy, Block Public Access changed within 20 s; three writes.
    const burst = [0, 10, 20].map((s, i) => ({ at: NOW - 5 * 60_000 + s * 1000, eventId: `b${i}`, actor: DEPLOYER, changedAt: NOW - 6 * 60_000 + s * 1000 }));
    expect(fightsIn(burst, SETTLE)).toEqual([{ actor: DEPLOYER, startedAt: NOW - 6 * 60_000, writes: 3 }]);
    expect(state(burst)).toMatchObject({ flapping: false, fights: 1, writes: 3 });
  });

  it('a real fight never collapses: each change comes after the guard\'s write, a settle window after the last', () => {
    expect(fightsIn(fight(TERRAFORM, 30, 20, 10), SETTLE)).toHaveLength(3);
  });

  it('allows the threshold\'s worth of fights and stops the next change of the same kind', () => {
    const three = fight(TERRAFORM, 30, 20, 10);
    expect(state(fight(TERRAFORM, 30, 20), { actor: TERRAFORM, minutesAgo: 10 }).flapping).toBe(false); // the 3rd
    expect(state(three, { actor: TERRAFORM, minutesAgo: 0 })).toMatchObject({ flapping: true, fights: 4, writes: 3, actors: [TERRAFORM] }); // a 4th
    expect(state(three).flapping).toBe(true); // a sweep, or a write that undoes nobody's change, after 3
  });

  it('a write that undoes a change already counted (the same burst) adds nothing', () => {
    const three = fight(TERRAFORM, 30, 20, 10);
    expect(state(three, { actor: TERRAFORM, minutesAgo: 10 - 0.5 })).toMatchObject({ flapping: false, fights: 3 });
  });

  it('counts only writes within the window', () => {
    expect(state(fight(TERRAFORM, 90, 30, 10))).toMatchObject({ flapping: false, fights: 2, writes: 2 });
  });

  it('mixed actors: each actor\'s changes are their own', () => {
    const entries = [...fight(TERRAFORM, 30), ...fight(DEPLOYER, 30)];
    expect(state(entries)).toMatchObject({ fights: 2, actors: [TERRAFORM, DEPLOYER] });
  });

  it('without a change time (older events) the write time stands in', () => {
    expect(fightsIn([{ at: NOW, eventId: 'x', actor: TERRAFORM }, { at: NOW + 1000, eventId: 'y', actor: TERRAFORM }], SETTLE)).toHaveLength(1);
  });

  it('one deploy\'s burst never trips the threshold, and a real downgrade after it still counts as one', () => {
    const burst = [0, 5, 10, 15, 20].map((s, i) => ({ at: NOW - 3 * 60_000 + s * 1000, eventId: `b${i}`, actor: DEPLOYER, changedAt: NOW - 4 * 60_000 + s * 1000 }));
    expect(state(burst, { actor: TERRAFORM, minutesAgo: 1 })).toMatchObject({ flapping: false, fights: 2 });
  });
});

describe('flap ledger (DynamoDB)', () => {
  const claimItem = (entries: LedgerEntry[], claims: Record<string, number> = {}) => ({
    bucket: { S: 'app-data' },
    entries: { L: entries.map((e) => ({ M: { at: { N: String(e.at) }, eventId: { S: e.eventId }, actor: { S: e.actor }, ...(e.changedAt ? { changedAt: { N: String(e.changedAt) } } : {}) } })) },
    ...Object.fromEntries(Object.entries(claims).map(([id, at]) => [`claim:${id}`, { N: String(at) }])),
  });

  it('claims an event in one conditional call that returns the recent writes', async () => {
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: claimItem(fight(TERRAFORM, 5), { 'evt-1': NOW }) });
    await expect(ledger.claim('app-data', 'evt-1', NOW)).resolves.toEqual({ status: 'claimed', entries: fight(TERRAFORM, 5) });
    const input = dynamodb.commandCalls(UpdateItemCommand)[0].args[0].input;
    expect(input).toMatchObject({
      TableName: 'ledger', Key: { bucket: { S: 'app-data' } }, ReturnValues: 'ALL_NEW',
      ConditionExpression: 'attribute_not_exists(#claim) OR #claim < :leaseStart', ExpressionAttributeNames: { '#claim': 'claim:evt-1' },
    });
    expect(input.ExpressionAttributeValues?.[':leaseStart']).toEqual({ N: String(NOW - LEASE_MS) });
    expect(input.ExpressionAttributeValues?.[':expires']).toEqual({ N: String((NOW + HOUR) / 1000) });
    expect(dynamodb.calls()).toHaveLength(1);
  });

  it('recognises a duplicate delivery of the same event while the first holds the claim', async () => {
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ConditionalCheckFailedException', 400));
    await expect(ledger.claim('app-data', 'evt-1', NOW)).resolves.toEqual({ status: 'duplicate' });
  });

  it('records a write after it is made, with the time of the change it undid', async () => {
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: claimItem(fight(TERRAFORM, 1)) });
    await ledger.recordWrite('app-data', { at: NOW, eventId: 'evt-1', actor: TERRAFORM, changedAt: NOW - 60_000 });
    const input = dynamodb.commandCalls(UpdateItemCommand)[0].args[0].input;
    expect(input.UpdateExpression).toBe('SET entries = list_append(if_not_exists(entries, :none), :entry), expiresAt = :expires');
    expect(input.ExpressionAttributeValues?.[':entry']).toEqual({ L: [{ M: { at: { N: String(NOW) }, eventId: { S: 'evt-1' }, actor: { S: TERRAFORM }, changedAt: { N: String(NOW - 60_000) } } }] });
  });

  it('trims the oldest entries when a long fight outgrows the list, and expired claims when they pile up', async () => {
    const many = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => entry(MAX_ENTRIES + 1 - i));
    dynamodb.on(UpdateItemCommand).resolvesOnce({ Attributes: claimItem(many) }).resolves({});
    await ledger.recordWrite('app-data', many.at(-1)!);
    const trim = dynamodb.commandCalls(UpdateItemCommand)[1].args[0].input;
    expect(trim.UpdateExpression).toMatch(/^REMOVE entries\[0\], /);
    expect(trim.UpdateExpression?.split(',')).toHaveLength(MAX_ENTRIES + 1 - MAX_ENTRIES / 2);
    expect(trim.ConditionExpression).toBe('size(entries) = :length');

    dynamodb.reset();
    const stale = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`old-${i}`, NOW - 2 * HOUR]));
    dynamodb.on(UpdateItemCommand).resolvesOnce({ Attributes: claimItem([], { ...stale, 'evt-new': NOW }) }).resolves({});
    await ledger.claim('app-data', 'evt-new', NOW);
    const tidy = dynamodb.commandCalls(UpdateItemCommand)[1].args[0].input;
    expect(Object.values(tidy.ExpressionAttributeNames ?? {})).toHaveLength(25);
    expect(Object.values(tidy.ExpressionAttributeNames ?? {})).not.toContain('claim:evt-new');
  });

  it('reports an unreachable table instead of failing', async () => {
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ResourceNotFoundException', 400));
    dynamodb.on(GetItemCommand).rejects(s3Error('InternalServerError', 500));
    await expect(ledger.claim('app-data', 'evt-1', NOW)).resolves.toEqual({ status: 'unavailable', reason: expect.stringMatching(/ResourceNotFoundException/) });
    await expect(ledger.recent('app-data')).resolves.toEqual({ status: 'unavailable', reason: expect.stringMatching(/InternalServerError/) });
    await expect(ledger.recordWrite('app-data', entry(0))).resolves.toBeUndefined();
  });
});

describe('enforceBucket with the flap ledger', () => {
  const request = (eventId = 'evt-now'): EnforceRequest => ({
    bucket: 'app-data', region: REGION, accountId: ACCOUNT, trigger: { type: 'event', eventName: 'PutBucketEncryption', eventId, actor: TERRAFORM },
  });
  const guard = () => ({ ...testGuard(config()), ledger, now: () => NOW });
  /** A bucket without default encryption, which keeps what is written to it. */
  const noEncryption = () => {
    let written: object | undefined;
    s3.on(GetBucketEncryptionCommand).callsFake(async () => {
      if (!written) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
      return { ServerSideEncryptionConfiguration: written };
    });
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
    s3.on(PutBucketEncryptionCommand).callsFake(async (input) => { written = input.ServerSideEncryptionConfiguration; return {}; });
  };

  it('costs no DynamoDB call for a compliant bucket', async () => {
    s3.on(GetBucketEncryptionCommand).resolves({ ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    s3.on(GetBucketTaggingCommand).resolves({ TagSet: [] });
    await enforceBucket(request(), guard());
    expect(dynamodb.calls()).toHaveLength(0);
  });

  it('remediates up to the threshold, then stops with FLAPPING giving the true number of writes', async () => {
    noEncryption();
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: item(fight(TERRAFORM, 40, 20)) });
    expect(findingOf(await enforceBucket(request(), guard()))).toMatchObject({ action: 'REMEDIATED' });
    // Claimed first, then the write recorded only after it was made.
    expect(dynamodb.commandCalls(UpdateItemCommand).map((c) => c.args[0].input.UpdateExpression)).toEqual([
      expect.stringMatching(/^SET #claim = :at/), expect.stringMatching(/^SET entries = list_append/),
    ]);

    dynamodb.reset();
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: item(fight(TERRAFORM, 40, 30, 20)) });
    s3.reset();
    noEncryption(); // the other actor removed the rule again
    const finding = findingOf(await enforceBucket(request(), guard()));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
    expect(finding.violations.at(-1)).toMatchObject({ code: 'FLAPPING', severity: 'violation', detail: expect.stringMatching(new RegExp(`^3 writes .* undid 4 separate changes by ${TERRAFORM}`)) });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
    expect(dynamodb.commandCalls(UpdateItemCommand)).toHaveLength(1); // the skipped attempt is not recorded
    expect(metricsFor(finding)).toContain('RemediationsFailed'); // the failure alarm fires
  });

  it('lets one delivery of an event write; a duplicate writes nothing and reports no finding', async () => {
    noEncryption();
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ConditionalCheckFailedException', 400));
    await expect(enforceBucket(request(), guard())).resolves.toEqual({ kind: 'duplicate', bucket: 'app-data', eventId: 'evt-now' });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
  });

  it('a write after CreateBucket or tagging undoes nobody\'s change: claimed, not recorded', async () => {
    noEncryption();
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: item([]) });
    const created = findingOf(await enforceBucket({ ...request(), trigger: { type: 'event', eventName: 'CreateBucket', eventId: 'evt-c', actor: TERRAFORM } }, guard()));
    expect(created.action).toBe('REMEDIATED');
    expect(dynamodb.commandCalls(UpdateItemCommand)).toHaveLength(1);
  });

  it('still enforces when the table is unreachable, and says so', async () => {
    noEncryption();
    dynamodb.on(UpdateItemCommand).rejects(s3Error('AccessDeniedException', 400));
    const finding = findingOf(await enforceBucket(request(), guard()));
    expect(finding).toMatchObject({ action: 'REMEDIATED', violations: expect.arrayContaining([expect.objectContaining({ code: 'LEDGER_UNAVAILABLE', severity: 'warning' })]) });
  });

  it('in a sweep only reads the ledger, and leaves a flapping bucket alone', async () => {
    noEncryption();
    dynamodb.on(GetItemCommand).resolves({ Item: item(fight(TERRAFORM, 30, 20, 10)) });
    const finding = findingOf(await enforceBucket({ ...request(), trigger: { type: 'sweep', sweepId: 's' } }, guard()));
    expect(finding).toMatchObject({ action: 'SKIPPED', violations: expect.arrayContaining([expect.objectContaining({ code: 'FLAPPING' })]) });
    expect(dynamodb.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });

  it('is not consulted in dry run', async () => {
    noEncryption();
    await enforceBucket(request(), { ...guard(), config: config({ dryRun: true }) });
    expect(dynamodb.calls()).toHaveLength(0);
  });
});
