import { KMSClient, ListAliasesCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { createAliasLookup } from '../../lib/key-aliases';
import { s3Error } from './aws-mocks';
import { ACCOUNT, KEYS, REGION } from './fixtures';

const kms = mockClient(KMSClient);
const client = new KMSClient({ region: REGION, maxAttempts: 1 });
const aliasArn = (name: string) => `arn:aws:kms:${REGION}:${ACCOUNT}:${name}`;

beforeEach(() => kms.reset());

describe('the listed key\'s aliases', () => {
  it('are listed with ListAliases by KeyId, every page, as names and ARNs', async () => {
    kms.on(ListAliasesCommand)
      .resolvesOnce({ Aliases: [{ AliasName: 'alias/app', AliasArn: aliasArn('alias/app') }], NextMarker: 'm', Truncated: true })
      .resolvesOnce({ Aliases: [{ AliasName: 'alias/app-old', AliasArn: aliasArn('alias/app-old') }] });
    await expect(createAliasLookup(() => client)(KEYS.listed, ACCOUNT)).resolves.toEqual(['alias/app', aliasArn('alias/app'), 'alias/app-old', aliasArn('alias/app-old')]);
    const requests = kms.commandCalls(ListAliasesCommand).map((call) => call.args[0].input);
    expect(requests).toHaveLength(2);
    for (const input of requests) expect(input).toMatchObject({ KeyId: KEYS.listed });
    expect(requests[1].Marker).toBe('m');
  });

  it('are cached per container until the TTL passes, one request shared by concurrent lookups', async () => {
    kms.on(ListAliasesCommand).resolves({ Aliases: [] });
    let now = 0;
    const lookup = createAliasLookup(() => client, 1000, () => now);
    await Promise.all([lookup(KEYS.listed, ACCOUNT), lookup(KEYS.listed, ACCOUNT)]);
    now = 999;
    await lookup(KEYS.listed, ACCOUNT);
    expect(kms.commandCalls(ListAliasesCommand)).toHaveLength(1);
    now = 1000;
    await lookup(KEYS.listed, ACCOUNT);
    expect(kms.commandCalls(ListAliasesCommand)).toHaveLength(2);
  });

  it('of a key of another account are none the bucket\'s writers could use: no request (ListAliases lists only the caller\'s account)', async () => {
    await expect(createAliasLookup(() => client)(KEYS.foreign, ACCOUNT)).resolves.toEqual([]);
    expect(kms.calls()).toHaveLength(0);
  });

  it('are unknown when KMS refuses to list them, an answer kept for the TTL like the key facts', async () => {
    kms.on(ListAliasesCommand).rejectsOnce(s3Error('AccessDeniedException', 400)).resolves({ Aliases: [] });
    const lookup = createAliasLookup(() => client);
    await expect(lookup(KEYS.listed, ACCOUNT)).resolves.toBe('unknown');
    await expect(lookup(KEYS.listed, ACCOUNT)).resolves.toBe('unknown');
    expect(kms.commandCalls(ListAliasesCommand)).toHaveLength(1);
  });

  it('throw a transient failure, which is not remembered', async () => {
    kms.on(ListAliasesCommand).rejectsOnce(s3Error('ThrottlingException', 400, { $retryable: { throttling: true } })).resolves({ Aliases: [] });
    const lookup = createAliasLookup(() => client);
    await expect(lookup(KEYS.listed, ACCOUNT)).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(lookup(KEYS.listed, ACCOUNT)).resolves.toEqual([]);
  });
});
