/**
 * The organisation sweep's progress adapter with DynamoDB mocked: what each answer of a transaction or a
 * conditional write means (the emulator suite runs the same calls for real).
 */
import { DynamoDBClient, GetItemCommand, TransactWriteItemsCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createSweepProgress } from '../../lib/organization/sweep-progress';
import { s3Error } from './aws-mocks';

const dynamodb = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: 'us-east-1', maxAttempts: 1 });
const progress = () => createSweepProgress(() => client, 'ledger', () => 1_000_000);
const cancelled = (...codes: string[]) => s3Error('TransactionCanceledException', 400, { CancellationReasons: codes.map((Code) => ({ Code })) });
const change = { accountsDone: 0, pagesAdded: -1, totals: { buckets: 3, verdicts: { COMPLIANT: 3 } } };

beforeEach(() => dynamodb.reset());

describe('sweep progress', () => {
  it('counts a message in one transaction: its marker if absent, and the summary\'s counters', async () => {
    dynamodb.on(TransactWriteItemsCommand).resolves({});
    await expect(progress().count('s1', 'page:111111111111:0', change)).resolves.toBe('counted');
    const [put, update] = dynamodb.commandCalls(TransactWriteItemsCommand)[0]!.args[0].input.TransactItems!;
    expect(put!.Put).toMatchObject({ Item: { bucket: { S: 'sweep#s1#page:111111111111:0' } }, ConditionExpression: 'attribute_not_exists(#key)' });
    expect(update!.Update).toMatchObject({
      Key: { bucket: { S: 'sweep#s1' } }, ConditionExpression: 'attribute_exists(startedAt)',
      ExpressionAttributeNames: { '#c0': 'c.buckets', '#c1': 'c.verdicts.COMPLIANT' },
    });
  });

  it('tells a message counted before (its marker exists) from a sweep that is unknown', async () => {
    dynamodb.on(TransactWriteItemsCommand).rejectsOnce(cancelled('ConditionalCheckFailed', 'None')).rejectsOnce(cancelled('None', 'ConditionalCheckFailed'));
    await expect(progress().count('s1', 'page:1:0', change)).resolves.toBe('already-counted');
    await expect(progress().count('s1', 'page:1:0', change)).resolves.toBe('unknown-sweep');
  });

  it('passes any other failure on (throttling: the message comes back)', async () => {
    dynamodb.on(TransactWriteItemsCommand).rejects(cancelled('ThrottlingError', 'None'));
    await expect(progress().count('s1', 'page:1:0', change)).rejects.toThrow('TransactionCanceledException');
  });

  it('reports completion once: only when nothing is pending, and only to the caller whose claim lands', async () => {
    const summary = { bucket: { S: 'sweep#s1' }, startedAt: { N: '400000' }, pendingAccounts: { N: '0' }, pendingPages: { N: '0' }, 'c.accounts': { N: '2' }, 'c.verdicts.COMPLIANT': { N: '5' } };
    dynamodb.on(GetItemCommand).resolvesOnce({ Item: { ...summary, pendingPages: { N: '1' } } }).resolves({ Item: summary });
    dynamodb.on(UpdateItemCommand).resolvesOnce({}).rejects(s3Error('ConditionalCheckFailedException', 400));
    await expect(progress().complete('s1')).resolves.toBeUndefined();
    expect(dynamodb.commandCalls(UpdateItemCommand)).toHaveLength(0);
    await expect(progress().complete('s1')).resolves.toMatchObject({ sweepId: 's1', accounts: 2, verdicts: { COMPLIANT: 5 }, durationMs: 600_000 });
    await expect(progress().complete('s1')).resolves.toBeUndefined();
    expect(dynamodb.commandCalls(UpdateItemCommand)[0]!.args[0].input.ConditionExpression).toBe('(attribute_not_exists(completedAt) OR completedBy = :token) AND pendingAccounts = :zero AND pendingPages = :zero');
  });

  it('resumes a sweep that exists already (the coordinator\'s invocation retried)', async () => {
    dynamodb.on(UpdateItemCommand).rejectsOnce(s3Error('ConditionalCheckFailedException', 400)).resolves({});
    await expect(progress().start('s1', 3)).resolves.toBe('resumed');
    await expect(progress().start('s2', 3)).resolves.toBe('started');
  });
});
