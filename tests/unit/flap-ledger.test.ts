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
const entryValue = (e: LedgerEntry) => ({
  M: { at: { N: String(e.at) }, eventId: { S: e.eventId }, actor: { S: e.actor }, ...(e.changedAt ? { changedAt: { N: String(e.changedAt) } } : {}), ...(e.setting ? { setting: { S: e.setting } } : {}) },
});
const item = (entries: LedgerEntry[]) => ({ bucket: { S: 'app-data' }, entries: { L: entries.map(entryValue) } });
const TERRAFORM = 'arn:aws:sts::123456789012:assumed-role/terraform/run';
const entry = (minutesAgo: number, eventId = `e-${minutesAgo}`): LedgerEntry => ({ at: NOW - minutesAgo * 60_000, eventId, actor: TERRAFORM });

beforeEach(() => {
  dynamodb.reset();
  s3.reset();
});

/**
 * One round per entry: `actor` changed `setting` at the given minutes ago; the guard wrote it back a
 * minute later (the settle delay).
 */
const fight = (actor: string, ...changesMinutesAgo: number[]): LedgerEntry[] =>
  changesMinutesAgo.map((minutesAgo, i) => ({ at: NOW - minutesAgo * 60_000 + 60_000, eventId: `${actor}-${minutesAgo}-${i}`, actor, changedAt: NOW - minutesAgo * 60_000, setting: 'encryption' }));
const DEPLOYER = 'arn:aws:sts::123456789012:assumed-role/ci-deployer/apply';
const OWNER = 'arn:aws:sts::123456789012:assumed-role/data-team/alice';
const state = (entries: LedgerEntry[], undoing?: { actor: string; minutesAgo: number; setting?: string }) => flapState({
  entries, now: NOW, windowMs: HOUR, threshold: 3,
  ...(undoing ? { undoing: { actor: undoing.actor, changedAt: NOW - undoing.minutesAgo * 60_000, setting: undoing.setting ?? 'encryption' } } : {}),
});
/** One deploy's changes (seconds after `startMinutesAgo`), each written back by the guard a settle delay later. */
const deploy = (actor: string, startMinutesAgo: number, changes: [seconds: number, setting: string][]): LedgerEntry[] =>
  changes.map(([seconds, setting], i) => {
    const changedAt = NOW - startMinutesAgo * 60_000 + seconds * 1000;
    return { at: changedAt + 61_000, eventId: `${actor}-${startMinutesAgo}-${i}`, actor, changedAt, setting };
  });

describe('flap arithmetic (pure)', () => {
  it('one deploy\'s changes to encryption, policy and Block Public Access are one round, however many writes undid them', () => {
    const burst = deploy(DEPLOYER, 6, [[0, 'encryption'], [10, 'policy'], [20, 'publicAccessBlock']]);
    expect(fightsIn(burst)).toEqual([expect.objectContaining({ actor: DEPLOYER, writes: 3 })]);
    expect(state(burst)).toMatchObject({ flapping: false, rounds: 1, writes: 3 });
  });

  it('a deploy that runs longer than the settle delay is still one round, as long as it does not change a setting again after the guard wrote it back', () => {
    const slow = deploy(DEPLOYER, 10, [[0, 'encryption'], [150, 'policy'], [290, 'publicAccessBlock']]);
    expect(fightsIn(slow)).toHaveLength(1);
  });

  it('events of one deploy handled out of order are still one round', () => {
    const [first, second] = deploy(DEPLOYER, 6, [[0, 'encryption'], [20, 'policy']]);
    expect(fightsIn([second, first])).toHaveLength(1);
    expect(state([second], { actor: DEPLOYER, minutesAgo: 6 }).rounds).toBe(1); // the earlier change arrives after the later one's write
  });

  it('a real fight: each change of a setting the guard had already written back is a new round, however close in time', () => {
    expect(fightsIn(fight(TERRAFORM, 30, 20, 10))).toHaveLength(3);
    // Rounds a settle delay apart exactly, and a fighter that reverts a second after each write.
    const fast: LedgerEntry[] = [0, 1, 2].map((round) => ({ at: NOW - 10 * 60_000 + round * 62_000 + 61_000, eventId: `f${round}`, actor: TERRAFORM, changedAt: NOW - 10 * 60_000 + round * 62_000, setting: 'encryption' }));
    expect(fightsIn(fast)).toHaveLength(3);
  });

  it('allows the threshold\'s worth of rounds and stops the next one', () => {
    const three = fight(TERRAFORM, 30, 20, 10);
    expect(state(fight(TERRAFORM, 30, 20), { actor: TERRAFORM, minutesAgo: 10 })).toMatchObject({ flapping: false, rounds: 3 });
    expect(state(three, { actor: TERRAFORM, minutesAgo: 0 })).toMatchObject({ flapping: true, rounds: 4, writes: 3, actors: [TERRAFORM] });
    expect(state(three)).toMatchObject({ flapping: true, actors: [TERRAFORM] }); // a sweep, or a write that undoes nobody's change
  });

  it('a write that undoes a change of the round already counted (the same burst) adds nothing', () => {
    const three = fight(TERRAFORM, 30, 20, 10);
    expect(state(three, { actor: TERRAFORM, minutesAgo: 10, setting: 'policy' })).toMatchObject({ flapping: false, rounds: 3 });
  });

  it('rounds are counted per actor: several people each changing the bucket once is no fight', () => {
    const entries = [...fight(TERRAFORM, 40), ...fight(DEPLOYER, 30), ...fight(OWNER, 20)];
    expect(state(entries)).toMatchObject({ flapping: false, actors: [] });
    expect(state(entries, { actor: 'arn:aws:iam::123456789012:user/bob', minutesAgo: 5 })).toMatchObject({ flapping: false, rounds: 1 });
  });

  it('counts only writes within the window', () => {
    expect(state(fight(TERRAFORM, 90, 30, 10))).toMatchObject({ flapping: false, rounds: 2, writes: 2 });
  });

  it('entries without a change time or setting (written by an earlier version) still count, by write time', () => {
    expect(fightsIn([{ at: NOW, eventId: 'x', actor: TERRAFORM }, { at: NOW + 5000, eventId: 'y', actor: TERRAFORM }])).toHaveLength(2);
  });

  it('one deploy\'s burst never trips the threshold, and a real downgrade by another actor after it is fixed', () => {
    const burst = deploy(DEPLOYER, 4, [[0, 'encryption'], [5, 'policy'], [10, 'publicAccessBlock'], [15, 'encryption'], [20, 'policy']]);
    expect(state(burst)).toMatchObject({ flapping: false });
    expect(state(burst, { actor: TERRAFORM, minutesAgo: 1 })).toMatchObject({ flapping: false, rounds: 1 });
  });
});

describe('flap ledger (DynamoDB)', () => {
  const claimItem = (entries: LedgerEntry[], claims: Record<string, number> = {}) => ({
    bucket: { S: 'app-data' },
    entries: { L: entries.map(entryValue) },
    ...Object.fromEntries(Object.entries(claims).map(([id, at]) => [`claim:${id}`, { M: { at: { N: String(at) }, by: { S: `run-of-${id}` } } }])),
  });

  it('claims an event in one conditional call that returns the recent writes', async () => {
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: claimItem(fight(TERRAFORM, 5), { 'evt-1': NOW }) });
    await expect(ledger.claim('app-data', 'evt-1', NOW, 'run-1')).resolves.toEqual({ status: 'claimed', entries: fight(TERRAFORM, 5) });
    const input = dynamodb.commandCalls(UpdateItemCommand)[0].args[0].input;
    expect(input).toMatchObject({
      TableName: 'ledger', Key: { bucket: { S: 'app-data' } }, ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      ConditionExpression: 'attribute_not_exists(#claim) OR #claim.#at < :leaseStart', ExpressionAttributeNames: { '#claim': 'claim:evt-1', '#at': 'at' },
    });
    expect(input.ExpressionAttributeValues?.[':claim']).toEqual({ M: { at: { N: String(NOW) }, by: { S: 'run-1' } } });
    expect(input.ExpressionAttributeValues?.[':leaseStart']).toEqual({ N: String(NOW - LEASE_MS) });
    expect(input.ExpressionAttributeValues?.[':expires']).toEqual({ N: String((NOW + HOUR) / 1000) });
    expect(dynamodb.calls()).toHaveLength(1);
  });

  it('recognises a duplicate delivery of the same event while the first holds the claim', async () => {
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ConditionalCheckFailedException', 400, { Item: claimItem([], {}) }));
    await expect(ledger.claim('app-data', 'evt-1', NOW, 'run-2')).resolves.toEqual({ status: 'duplicate' });
  });

  it('knows its own claim when the SDK retried a claim that had landed (the answer was lost): not a duplicate', async () => {
    const landed = { ...claimItem(fight(TERRAFORM, 5)), 'claim:evt-1': { M: { at: { N: String(NOW) }, by: { S: 'run-1' } } } };
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ConditionalCheckFailedException', 400, { Item: landed }));
    await expect(ledger.claim('app-data', 'evt-1', NOW, 'run-1')).resolves.toEqual({ status: 'claimed', entries: fight(TERRAFORM, 5) });
    await expect(ledger.claim('app-data', 'evt-1', NOW, 'run-2')).resolves.toEqual({ status: 'duplicate' });
  });

  it('records a write after it is made, with the time of the change it undid', async () => {
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: claimItem(fight(TERRAFORM, 1)) });
    await ledger.recordWrite('app-data', { at: NOW, eventId: 'evt-1', actor: TERRAFORM, changedAt: NOW - 60_000, setting: 'encryption' });
    const input = dynamodb.commandCalls(UpdateItemCommand)[0].args[0].input;
    expect(input.UpdateExpression).toBe('SET entries = list_append(if_not_exists(entries, :none), :entry), expiresAt = :expires');
    expect(input.ExpressionAttributeValues?.[':entry']).toEqual({ L: [{ M: { at: { N: String(NOW) }, eventId: { S: 'evt-1' }, actor: { S: TERRAFORM }, changedAt: { N: String(NOW - 60_000) }, setting: { S: 'encryption' } } }] });
  });

  it('trims the entries outside the window when the list grows, keeps every one within it, and removes expired claims when they pile up', async () => {
    const old = Array.from({ length: MAX_ENTRIES }, (_, i) => entry(150 + i, `old-${i}`)); // an hour and more before the write
    const recent = Array.from({ length: 5 }, (_, i) => entry(50 - i, `new-${i}`));
    dynamodb.on(UpdateItemCommand).resolvesOnce({ Attributes: claimItem([...old, ...recent]) }).resolves({});
    await ledger.recordWrite('app-data', recent.at(-1)!);
    const trim = dynamodb.commandCalls(UpdateItemCommand)[1].args[0].input;
    expect(trim.UpdateExpression).toBe(`REMOVE ${old.map((_, i) => `entries[${i}]`).join(', ')}`);
    expect(trim.ConditionExpression).toBe('size(entries) = :length');

    dynamodb.reset();
    const many = Array.from({ length: MAX_ENTRIES + 10 }, (_, i) => entry(i % 50, `live-${i}`)); // all within the window: a threshold of 100 needs them
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: claimItem(many) });
    await ledger.recordWrite('app-data', many[0]);
    expect(dynamodb.commandCalls(UpdateItemCommand)).toHaveLength(1);

    dynamodb.reset();
    const stale = Object.fromEntries(Array.from({ length: 25 }, (_, i) => [`old-${i}`, NOW - 2 * HOUR]));
    dynamodb.on(UpdateItemCommand).resolvesOnce({ Attributes: claimItem([], { ...stale, 'evt-new': NOW }) }).resolves({});
    await ledger.claim('app-data', 'evt-new', NOW, 'run-1');
    const tidy = dynamodb.commandCalls(UpdateItemCommand)[1].args[0].input;
    expect(Object.values(tidy.ExpressionAttributeNames ?? {})).toHaveLength(25);
    expect(Object.values(tidy.ExpressionAttributeNames ?? {})).not.toContain('claim:evt-new');
  });

  it('reports an unreachable table instead of failing', async () => {
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ResourceNotFoundException', 400));
    dynamodb.on(GetItemCommand).rejects(s3Error('InternalServerError', 500));
    await expect(ledger.claim('app-data', 'evt-1', NOW, 'run-1')).resolves.toEqual({ status: 'unavailable', reason: expect.stringMatching(/ResourceNotFoundException/) });
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
      expect.stringMatching(/^SET #claim = :claim/), expect.stringMatching(/^SET entries = list_append/),
    ]);

    dynamodb.reset();
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: item(fight(TERRAFORM, 40, 30, 20)) });
    s3.reset();
    noEncryption(); // the other actor removed the rule again
    const finding = findingOf(await enforceBucket(request(), guard()));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
    expect(finding.violations.at(-1)).toMatchObject({ code: 'FLAPPING', severity: 'violation', detail: expect.stringMatching(new RegExp(`has undone 3 separate changes by ${TERRAFORM} \\(3 writes\\); this change, the 4th, is left as it is`)) });
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
