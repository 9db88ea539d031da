/** Real SDK clients against the emulator, and a guard wired to it that counts the calls it makes. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { AwsCredentialIdentity } from '@smithy/types';
import { CreateKeyCommand, DisableKeyCommand, KMSClient, ScheduleKeyDeletionCommand } from '@aws-sdk/client-kms';
import {
  CreateBucketCommand, GetBucketEncryptionCommand, PutBucketEncryptionCommand, PutBucketTaggingCommand, S3Client,
  type ServerSideEncryptionConfiguration,
} from '@aws-sdk/client-s3';
import { fromS3 } from '../../lib/encryption';
import { createGuard, type Guard } from '../../lib/guard';
import { useEmulator } from '../emulator-env';

export const REGION = 'us-east-1';

export const admin = () => {
  const endpoint = useEmulator();
  const s3 = new S3Client({ region: REGION, endpoint, forcePathStyle: true });
  const kms = new KMSClient({ region: REGION, endpoint });
  return {
    s3,
    kms,
    async createBucket(name: string, options: { encryption?: ServerSideEncryptionConfiguration; tags?: Record<string, string> } = {}) {
      await s3.send(new CreateBucketCommand({ Bucket: name }));
      if (options.encryption) await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: options.encryption }));
      if (options.tags) {
        await s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: Object.entries(options.tags).map(([Key, Value]) => ({ Key, Value })) } }));
      }
    },
    async encryptionOf(name: string) {
      try {
        return fromS3((await s3.send(new GetBucketEncryptionCommand({ Bucket: name }))).ServerSideEncryptionConfiguration);
      } catch (error) {
        if ((error as Error).name === 'ServerSideEncryptionConfigurationNotFoundError') return undefined;
        throw error;
      }
    },
    async createKey(state: 'Enabled' | 'Disabled' | 'PendingDeletion' = 'Enabled'): Promise<string> {
      // Usage and spec are explicit: AWS defaults them, the emulator leaves KeyUsage out of DescribeKey.
      const { KeyMetadata } = await kms.send(new CreateKeyCommand({ Description: 's3-encryption-guard test key', KeyUsage: 'ENCRYPT_DECRYPT', KeySpec: 'SYMMETRIC_DEFAULT' }));
      const keyId = KeyMetadata!.KeyId!;
      // The emulator takes key ids here, not ARNs.
      if (state === 'Disabled') await kms.send(new DisableKeyCommand({ KeyId: keyId }));
      if (state === 'PendingDeletion') await kms.send(new ScheduleKeyDeletionCommand({ KeyId: keyId, PendingWindowInDays: 7 }));
      return KeyMetadata!.Arn!;
    },
  };
};

/** A guard built the way the Lambda builds it, from environment settings; `calls` counts its requests. */
export const emulatorGuard = (settings: Record<string, string> = {}): Guard =>
  createGuard({ ...process.env, AWS_ENDPOINT_URL: useEmulator(), AWS_REGION: REGION, ...settings });

/** Requests of one operation (`S3.PutBucketEncryption`) in a call count. */
export const callsOf = (guard: Guard, operation: string): number => guard.calls[operation] ?? 0;

let counter = 0;
/** A bucket name unique within the test run. */
export const uniqueBucket = (prefix: string): string => `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`;

/**
 * DynamoDB applies conditional writes to one item one at a time; the emulator does not (DESIGN.md, moto
 * facts). The ledger's client here queues its UpdateItem calls, as DynamoDB would serialise them.
 */
export const serialisedDynamoDb = (credentials?: AwsCredentialIdentity): DynamoDBClient => {
  const client = new DynamoDBClient({ region: REGION, endpoint: useEmulator(), ...(credentials ? { credentials } : {}) });
  let queue: Promise<unknown> = Promise.resolve();
  client.middlewareStack.add((next) => (args) => {
    const turn = queue.then(() => next(args));
    queue = turn.catch(() => undefined);
    return turn;
  }, { step: 'initialize', name: 'serialiseLikeDynamoDb' });
  return client;
};

