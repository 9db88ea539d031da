import { DynamoDBClient, GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { GetBucketEncryptionCommand, GetBucketTaggingCommand, PutBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { enforceBucket, type EnforceRequest } from '../../lib/enforce';
import { createFlapLedger, flapping, type LedgerEntry, MAX_ENTRIES } from '../../lib/flap-ledger';
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
  entries: { L: entries.map((e) => ({ M: { at: { N: String(e.at) }, eventId: { S: e.eventId }, actor: { S: e.actor } } })) },
});
const TERRAFORM = 'arn:aws:sts::123456789012:assumed-role/terraform/run';
const entry = (minutesAgo: number, eventId = `e-${minutesAgo}`): LedgerEntry => ({ at: NOW - minutesAgo * 60_000, eventId, actor: TERRAFORM });

beforeEach(() => {
  dynamodb.reset();
  s3.reset();
});

describe('flapping (pure)', () => {
  it('counts only remediations within the window', () => {
    expect(flapping([entry(90), entry(30), entry(10)], NOW, HOUR, 3, false)).toEqual({ flapping: false, actors: [TERRAFORM], count: 2 });
  });

  it('allows the threshold\'s worth of remediations and stops the next one', () => {
    const three = [entry(30), entry(20), entry(10)];
    expect(flapping(three, NOW, HOUR, 3, true).flapping).toBe(false); // the 3rd, just recorded
    expect(flapping([...three, entry(0)], NOW, HOUR, 3, true).flapping).toBe(true); // a 4th
    expect(flapping(three, NOW, HOUR, 3, false).flapping).toBe(true); // a sweep after 3
  });
});

describe('flap ledger (DynamoDB)', () => {
  it('records a remediation conditionally on its event id, in one call that returns the recent ones', async () => {
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: item([entry(5), entry(0, 'evt-1')]) });
    await expect(ledger.record('app-data', entry(0, 'evt-1'))).resolves.toEqual({ status: 'recorded', entries: [entry(5), entry(0, 'evt-1')] });
    const input = dynamodb.commandCalls(UpdateItemCommand)[0].args[0].input;
    expect(input).toMatchObject({
      TableName: 'ledger', Key: { bucket: { S: 'app-data' } }, ReturnValues: 'ALL_NEW',
      ConditionExpression: 'attribute_not_exists(eventIds) OR NOT contains(eventIds, :eventId)',
    });
    expect(input.ExpressionAttributeValues?.[':expires']).toEqual({ N: String((NOW + HOUR) / 1000) });
  });

  it('recognises a duplicate delivery of the same event while the first is at work', async () => {
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ConditionalCheckFailedException', 400));
    dynamodb.on(GetItemCommand).resolves({ Item: item([entry(1, 'evt-1')]) }); // recorded a minute ago
    await expect(ledger.record('app-data', entry(0, 'evt-1'))).resolves.toEqual({ status: 'duplicate' });
  });

  it('lets the queue\'s retry of an event whose first attempt failed go on, without counting it twice', async () => {
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ConditionalCheckFailedException', 400));
    dynamodb.on(GetItemCommand).resolves({ Item: item([entry(6, 'evt-1')]) }); // six minutes ago: the lease ran out
    await expect(ledger.record('app-data', entry(0, 'evt-1'))).resolves.toEqual({ status: 'recorded', entries: [entry(6, 'evt-1')] });
  });

  it('trims the oldest entries when a long fight outgrows the list', async () => {
    const many = Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => entry(MAX_ENTRIES + 1 - i));
    dynamodb.on(UpdateItemCommand).resolvesOnce({ Attributes: item(many) }).resolves({});
    await ledger.record('app-data', many.at(-1)!);
    const trim = dynamodb.commandCalls(UpdateItemCommand)[1].args[0].input;
    expect(trim.UpdateExpression).toMatch(/^REMOVE entries\[0\], .* DELETE eventIds :old$/);
    expect(trim.ConditionExpression).toBe('size(entries) = :length');
    expect(trim.ExpressionAttributeValues?.[':old'].SS).toHaveLength(MAX_ENTRIES + 1 - MAX_ENTRIES / 2);
  });

  it('reports an unreachable table instead of failing', async () => {
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ResourceNotFoundException', 400));
    dynamodb.on(GetItemCommand).rejects(s3Error('InternalServerError', 500));
    await expect(ledger.record('app-data', entry(0))).resolves.toEqual({ status: 'unavailable', reason: expect.stringMatching(/ResourceNotFoundException/) });
    await expect(ledger.recent('app-data')).resolves.toEqual({ status: 'unavailable', reason: expect.stringMatching(/InternalServerError/) });
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

  it('remediates up to the threshold, then stops with FLAPPING naming the other actor', async () => {
    noEncryption();
    dynamodb.on(UpdateItemCommand).resolves({ Attributes: item([entry(40), entry(20), entry(0, 'evt-now')]) });
    expect(await enforceBucket(request(), guard())).toMatchObject({ action: 'REMEDIATED' });

    dynamodb.on(UpdateItemCommand).resolves({ Attributes: item([entry(40), entry(30), entry(20), entry(0, 'evt-now')]) });
    s3.reset();
    noEncryption(); // the other actor removed the rule again
    const finding = await enforceBucket(request(), guard());
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'SKIPPED' });
    expect(finding.violations.at(-1)).toMatchObject({ code: 'FLAPPING', severity: 'violation', detail: expect.stringContaining(TERRAFORM) });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
    expect(metricsFor(finding)).toContain('RemediationsFailed'); // the failure alarm fires
  });

  it('lets one delivery of an event write; the duplicates write nothing', async () => {
    noEncryption();
    dynamodb.on(UpdateItemCommand).rejects(s3Error('ConditionalCheckFailedException', 400));
    dynamodb.on(GetItemCommand).resolves({ Item: item([entry(0, 'evt-now')]) });
    const finding = await enforceBucket(request(), guard());
    expect(finding).toMatchObject({ action: 'SKIPPED', violations: expect.arrayContaining([expect.objectContaining({ code: 'DUPLICATE_DELIVERY' })]) });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
  });

  it('still enforces when the table is unreachable, and says so', async () => {
    noEncryption();
    dynamodb.on(UpdateItemCommand).rejects(s3Error('AccessDeniedException', 400));
    const finding = await enforceBucket(request(), guard());
    expect(finding).toMatchObject({ action: 'REMEDIATED', violations: expect.arrayContaining([expect.objectContaining({ code: 'LEDGER_UNAVAILABLE', severity: 'warning' })]) });
  });

  it('in a sweep only reads the ledger, and leaves a flapping bucket alone', async () => {
    noEncryption();
    dynamodb.on(GetItemCommand).resolves({ Item: item([entry(30), entry(20), entry(10)]) });
    const finding = await enforceBucket({ ...request(), trigger: { type: 'sweep', sweepId: 's' } }, guard());
    expect(finding).toMatchObject({ action: 'SKIPPED', violations: expect.arrayContaining([expect.objectContaining({ code: 'FLAPPING' })]) });
    expect(dynamodb.commandCalls(UpdateItemCommand)).toHaveLength(0);
  });

  it('is not consulted in dry run', async () => {
    noEncryption();
    await enforceBucket(request(), { ...guard(), config: config({ dryRun: true }) });
    expect(dynamodb.calls()).toHaveLength(0);
  });
});
