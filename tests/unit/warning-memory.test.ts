/** The sweep's warning memory in DynamoDB: batched, bounded, and never making the sweep say less. */
import { BatchGetItemCommand, BatchWriteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { createWarningMemory, MEMORY_TTL_DAYS } from '../../lib/warning-memory';
import { s3Error } from './aws-mocks';

const TABLE = 'guard-dev-flap-ledger';
const NOW = Date.parse('2026-03-02T00:00:00Z');
const dynamodb = mockClient(DynamoDBClient);
const client = new DynamoDBClient({ region: 'us-east-1', maxAttempts: 1 });
afterAll(() => dynamodb.restore());

const setup = () => {
  const problems: string[] = [];
  return { problems, memory: createWarningMemory(() => client, TABLE, (problem) => problems.push(problem), () => NOW) };
};
const item = (bucket: string, codes: string) => ({ bucket: { S: `warnings#${bucket}` }, codes: { S: codes } });

beforeEach(() => dynamodb.reset());

describe('recall', () => {
  it('reads 100 buckets per BatchGetItem, under keys that cannot meet a ledger item, and says "" for buckets it has nothing on', async () => {
    const buckets = Array.from({ length: 250 }, (_, i) => `b${i}`);
    dynamodb.on(BatchGetItemCommand).callsFake(async (input) => ({
      Responses: { [TABLE]: input.RequestItems[TABLE].Keys.filter((key: { bucket: { S: string } }) => key.bucket.S === 'warnings#b7').map(() => item('b7', 'TLS_NOT_REQUIRED')) },
    }));
    const { memory, problems } = setup();
    const recalled = await memory.recall(buckets);
    const calls = dynamodb.commandCalls(BatchGetItemCommand);
    expect(calls.map((call) => call.args[0].input.RequestItems![TABLE].Keys!.length)).toEqual([100, 100, 50]);
    expect(calls[0].args[0].input.RequestItems![TABLE].Keys![0]).toEqual({ bucket: { S: 'warnings#b0' } });
    expect(recalled.get('b7')).toBe('TLS_NOT_REQUIRED');
    expect(recalled.get('b8')).toBe('');
    expect(recalled.size).toBe(250);
    expect(problems).toEqual([]);
  });

  it('asks again for unprocessed keys, and leaves out those still unread after three rounds (unknown: logged)', async () => {
    dynamodb.on(BatchGetItemCommand).callsFake(async (input) => ({
      Responses: { [TABLE]: [] },
      UnprocessedKeys: { [TABLE]: { Keys: input.RequestItems[TABLE].Keys.filter((key: { bucket: { S: string } }) => key.bucket.S === 'warnings#busy') } },
    }));
    const { memory } = setup();
    const recalled = await memory.recall(['busy', 'calm']);
    expect(dynamodb.commandCalls(BatchGetItemCommand)).toHaveLength(3);
    expect([...recalled]).toEqual([['calm', '']]);
  });

  it('says what failed and knows nothing when the table cannot be read', async () => {
    dynamodb.on(BatchGetItemCommand).rejects(s3Error('AccessDeniedException', 400));
    const { memory, problems } = setup();
    expect((await memory.recall(['a'])).size).toBe(0);
    expect(problems).toEqual([expect.stringMatching(/^warning memory read failed \(AccessDeniedException: .*\): compliant buckets with warnings are logged$/)]);
  });
});

describe('remember', () => {
  it('puts changed codes with an expiry and deletes cleared ones, 25 per BatchWriteItem', async () => {
    dynamodb.on(BatchWriteItemCommand).resolves({});
    const { memory } = setup();
    const codes = new Map(Array.from({ length: 30 }, (_, i) => [`b${i}`, i === 3 ? '' : 'TLS_NOT_REQUIRED'] as const));
    await memory.remember(codes);
    const requests = dynamodb.commandCalls(BatchWriteItemCommand).map((call) => call.args[0].input.RequestItems![TABLE]);
    expect(requests.map((batch) => batch.length)).toEqual([25, 5]);
    expect(requests[0][0]).toEqual({ PutRequest: { Item: { ...item('b0', 'TLS_NOT_REQUIRED'), expiresAt: { N: String(NOW / 1000 + MEMORY_TTL_DAYS * 86_400) } } } });
    expect(requests[0][3]).toEqual({ DeleteRequest: { Key: { bucket: { S: 'warnings#b3' } } } });
  });

  it('retries unprocessed items a bounded number of times, and a failure only costs a repeated log line', async () => {
    dynamodb.on(BatchWriteItemCommand).callsFake(async (input) => ({ UnprocessedItems: { [TABLE]: input.RequestItems[TABLE] } }));
    const { memory, problems } = setup();
    await memory.remember(new Map([['a', 'TLS_NOT_REQUIRED']]));
    expect(dynamodb.commandCalls(BatchWriteItemCommand)).toHaveLength(3);
    expect(problems).toEqual([]);

    dynamodb.reset();
    dynamodb.on(BatchWriteItemCommand).rejects(s3Error('ResourceNotFoundException', 400));
    await expect(memory.remember(new Map([['a', 'TLS_NOT_REQUIRED']]))).resolves.toBeUndefined();
    expect(problems).toEqual([expect.stringMatching(/^warning memory write failed \(ResourceNotFoundException/)]);
  });
});
