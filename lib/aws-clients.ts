/**
 * One SDK client per service and region, created on first use and kept for the container's life
 * (connection reuse). Adaptive retries absorb throttling; `AWS_ENDPOINT_URL` points every client at an
 * emulator, where S3 needs path-style addressing.
 */
import { KMSClient } from '@aws-sdk/client-kms';
import { S3Client } from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';

const MAX_ATTEMPTS = 5;

const common = { retryMode: 'adaptive', maxAttempts: MAX_ATTEMPTS } as const;

const perRegion = <T>(create: (region: string) => T): ((region: string) => T) => {
  const clients = new Map<string, T>();
  return (region) => {
    let client = clients.get(region);
    if (!client) {
      client = create(region);
      clients.set(region, client);
    }
    return client;
  };
};

export interface AwsClients {
  s3: (region: string) => S3Client;
  kms: (region: string) => KMSClient;
  sts: (region: string) => STSClient;
}

export const createClients = (env: Readonly<Record<string, string | undefined>> = process.env): AwsClients => {
  const forcePathStyle = Boolean(env.AWS_ENDPOINT_URL);
  return {
    // The guard finds the bucket's region itself (see bucket-state.ts), so redirects are not followed.
    s3: perRegion((region) => new S3Client({ ...common, region, forcePathStyle, followRegionRedirects: false })),
    kms: perRegion((region) => new KMSClient({ ...common, region })),
    sts: perRegion((region) => new STSClient({ ...common, region })),
  };
};
