import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { createKeyLookup } from '../../lib/key-lookup';
import { s3Error } from './aws-mocks';
import { ACCOUNT, KEYS, REGION } from './fixtures';

const kms = mockClient(KMSClient);
const client = new KMSClient({ region: REGION, maxAttempts: 1 });
const metadata = (extra: Record<string, unknown> = {}) => ({
  KeyMetadata: { KeyId: 'k', Arn: KEYS.listed, AWSAccountId: ACCOUNT, KeyState: 'Enabled' as const, KeySpec: 'SYMMETRIC_DEFAULT' as const, KeyUsage: 'ENCRYPT_DECRYPT' as const, KeyManager: 'CUSTOMER' as const, ...extra },
});

beforeEach(() => kms.reset());

describe('key lookup', () => {
  it('returns what DescribeKey and GetKeyRotationStatus say of a customer key', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata());
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
    await expect(createKeyLookup(() => client)(KEYS.listed, REGION)).resolves.toEqual({
      found: true, arn: KEYS.listed, accountId: ACCOUNT, region: REGION, keyState: 'Enabled', keySpec: 'SYMMETRIC_DEFAULT',
      keyUsage: 'ENCRYPT_DECRYPT', keyManager: 'CUSTOMER', rotationEnabled: false,
    });
  });

  it('does not ask for rotation of AWS managed or disabled keys', async () => {
    kms.on(DescribeKeyCommand).resolvesOnce(metadata({ KeyManager: 'AWS' })).resolvesOnce(metadata({ KeyState: 'Disabled' }));
    const lookup = createKeyLookup(() => client);
    await lookup('alias/aws/s3', REGION);
    await lookup(KEYS.disabled, REGION);
    expect(kms.commandCalls(GetKeyRotationStatusCommand)).toHaveLength(0);
  });

  it('caches per key and region until the TTL passes, and shares a lookup in flight', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata());
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    let now = 0;
    const lookup = createKeyLookup(() => client, 1000, () => now);
    await Promise.all([lookup(KEYS.listed, REGION), lookup(KEYS.listed, REGION)]);
    now = 999;
    await lookup(KEYS.listed, REGION);
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(1);
    now = 1000;
    await lookup(KEYS.listed, REGION);
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(2);
  });

  it.each([
    ['NotFoundException', 400, /does not exist/],
    ['AccessDeniedException', 400, /access denied/],
    ['KMSInvalidStateException', 400, /KMSInvalidStateException/],
  ])('reports %s as a key that cannot be used', async (name, status, reason) => {
    kms.on(DescribeKeyCommand).rejects(s3Error(name, status));
    await expect(createKeyLookup(() => client)(KEYS.listed, REGION)).resolves.toEqual({ found: false, reason: expect.stringMatching(reason) });
  });

  it('throws a transient failure and does not remember it', async () => {
    kms.on(DescribeKeyCommand).rejectsOnce(s3Error('ThrottlingException', 400, { $retryable: { throttling: true } })).resolves(metadata({ KeyManager: 'AWS' }));
    const lookup = createKeyLookup(() => client);
    await expect(lookup(KEYS.listed, REGION)).rejects.toMatchObject({ name: 'ThrottlingException' });
    await expect(lookup(KEYS.listed, REGION)).resolves.toMatchObject({ found: true });
  });
});

describe('a key about to be written (fresh)', () => {
  it('is described again even while a cached answer is valid, and the fresh answer replaces it', async () => {
    kms.on(DescribeKeyCommand).resolvesOnce(metadata()).resolves(metadata({ KeyState: 'Disabled' }));
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    const lookup = createKeyLookup(() => client, 60_000, () => 0);
    await expect(lookup(KEYS.listed, REGION)).resolves.toMatchObject({ keyState: 'Enabled' });
    await expect(lookup(KEYS.listed, REGION, { fresh: true })).resolves.toMatchObject({ keyState: 'Disabled' });
    await expect(lookup(KEYS.listed, REGION)).resolves.toMatchObject({ keyState: 'Disabled' }); // no stale Enabled left behind
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(2);
  });

  it('costs one DescribeKey (no rotation request) and keeps the rotation status already known', async () => {
    kms.on(DescribeKeyCommand).resolves(metadata());
    kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: false });
    const lookup = createKeyLookup(() => client, 60_000, () => 0);
    await lookup(KEYS.listed, REGION);
    await expect(lookup(KEYS.listed, REGION, { fresh: true })).resolves.toMatchObject({ keyState: 'Enabled', rotationEnabled: false });
    expect(kms.commandCalls(GetKeyRotationStatusCommand)).toHaveLength(1);
  });
});
