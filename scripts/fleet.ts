/** A fleet of buckets in mixed states on the emulator, for `sweep:local`, the sweep benchmark and tests. */
import {
  CreateBucketCommand, DeleteBucketEncryptionCommand, PutBucketEncryptionCommand, PutBucketTaggingCommand, S3Client,
  type ServerSideEncryptionByDefault,
} from '@aws-sdk/client-s3';
import { forEachLimit } from '../lib/concurrency';

export type FleetState = 'none' | 'sse-s3' | 'aws-managed' | 'exempt' | 'tagged-aws-managed';
const STATES: readonly FleetState[] = ['none', 'sse-s3', 'aws-managed', 'exempt', 'tagged-aws-managed'];

const RULES: Partial<Record<FleetState, ServerSideEncryptionByDefault>> = {
  'sse-s3': { SSEAlgorithm: 'AES256' },
  'aws-managed': { SSEAlgorithm: 'aws:kms' },
};
const TAGS: Partial<Record<FleetState, Record<string, string>>> = {
  exempt: { 'encryption-guard:exempt': 'true' },
  'tagged-aws-managed': { 'encryption-guard:mode': 'SSE_KMS_AWS_MANAGED' },
};

export interface FleetBucket {
  name: string;
  state: FleetState;
}

export const emulatorS3 = (endpoint: string, region = 'us-east-1'): S3Client =>
  new S3Client({ region, endpoint, forcePathStyle: true, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } });

/**
 * Creates `count` buckets `<prefix>-00000`… cycling through the states (no rule, AES256, aws/s3, exempt, mode
 * tag), `concurrency` buckets at a time.
 */
export const seedFleet = async (s3: S3Client, count: number, prefix = 'fleet', concurrency = 8): Promise<FleetBucket[]> => {
  const fleet = Array.from({ length: count }, (_, index): FleetBucket => ({ name: `${prefix}-${String(index).padStart(5, '0')}`, state: STATES[index % STATES.length] }));
  await forEachLimit(fleet, concurrency, async ({ name, state }) => {
    await s3.send(new CreateBucketCommand({ Bucket: name }));
    const rule = RULES[state];
    if (rule) await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: rule }] } }));
    const tags = TAGS[state];
    if (tags) await s3.send(new PutBucketTaggingCommand({ Bucket: name, Tagging: { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) } }));
  });
  return fleet;
};

/** Puts every bucket of the fleet back in its seeded encryption state (for repeated measurements). */
export const resetFleet = async (s3: S3Client, fleet: readonly FleetBucket[]): Promise<void> => {
  await forEachLimit(fleet, 8, async ({ name, state }) => {
    const rule = RULES[state];
    if (rule) await s3.send(new PutBucketEncryptionCommand({ Bucket: name, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: rule }] } }));
    else await s3.send(new DeleteBucketEncryptionCommand({ Bucket: name }));
  });
};
