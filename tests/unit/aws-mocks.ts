/** aws-sdk-client-mock helpers: S3 errors shaped like the SDK's, and a guard wired to mocked clients. */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import type { GuardConfig } from '../../lib/config';
import type { GuardDeps } from '../../lib/enforce';
import { createKeyLookup } from '../../lib/key-lookup';

export const s3Error = (name: string, status: number, extra: Record<string, unknown> = {}): Error =>
  Object.assign(new Error(`${name} (simulated)`), { name, $metadata: { httpStatusCode: status }, $fault: status >= 500 ? 'server' : 'client', ...extra });

export const guardDeps = (config: GuardConfig): GuardDeps => {
  const s3Clients = new Map<string, S3Client>();
  const kmsClients = new Map<string, KMSClient>();
  const s3 = (region: string): S3Client => s3Clients.get(region) ?? s3Clients.set(region, new S3Client({ region, maxAttempts: 1 })).get(region)!;
  const kms = (region: string): KMSClient => kmsClients.get(region) ?? kmsClients.set(region, new KMSClient({ region, maxAttempts: 1 })).get(region)!;
  return { config, s3, describeKey: createKeyLookup(kms) };
};
