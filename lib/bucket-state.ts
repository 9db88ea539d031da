/**
 * S3 adapter: everything the guard reads from and writes to a bucket. Every call carries
 * `ExpectedBucketOwner`, so a bucket of another account is refused by S3 itself (403).
 */
import {
  DeleteBucketPolicyCommand,
  GetBucketEncryptionCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetBucketWebsiteCommand,
  GetPublicAccessBlockCommand,
  paginateListBuckets,
  PutBucketEncryptionCommand,
  PutBucketPolicyCommand,
  PutPublicAccessBlockCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { errorName, isAccessDenied, isNoSuchBucket, redirectRegion } from './aws-errors';
import { type BucketEncryption, type EncryptionRule, fromS3, toS3 } from './encryption';
import type { PublicAccessBlock } from './guardrails';

export interface BucketRef {
  bucket: string;
  region: string;
  /** The account that must own the bucket: the guard's own. */
  owner: string;
}

export interface BucketState {
  /** The bucket's actual region (after any redirect). */
  region: string;
  encryption: BucketEncryption;
  tags: Record<string, string>;
  /** The policy document; `null`: none; `undefined`: not read (not asked for, or access denied). */
  policy?: string | null;
  /** `null`: none configured; `undefined`: not read. */
  publicAccessBlock?: PublicAccessBlock | null;
  /** Whether the bucket has a static website configuration; `undefined`: not read (not asked for, or access denied). */
  website?: boolean;
}

/** The optional reads: each costs a call only when a setting needs it. */
export interface ExtraReads {
  policy: boolean;
  publicAccessBlock: boolean;
  website: boolean;
}

export type S3ForRegion = (region: string) => S3Client;

/** S3 answers "there is none" with an error per kind of configuration: that answer as a value. */
const noneAs = async <T, N>(read: Promise<T>, noneError: string, none: N): Promise<T | N> => {
  try {
    return await read;
  } catch (error) {
    if (errorName(error) === noneError) return none;
    throw error;
  }
};

/** A guardrail's read the guard may be denied: `undefined`, and the finding says so; the evaluation goes on. */
export const unlessDenied = <T>(read: Promise<T>): Promise<T | undefined> =>
  read.catch((error: unknown) => {
    if (isAccessDenied(error)) return undefined;
    throw error;
  });

export const readEncryption = async (s3: S3ForRegion, ref: BucketRef): Promise<BucketEncryption> => {
  const read = s3(ref.region).send(new GetBucketEncryptionCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner }))
    .then((output) => fromS3(output.ServerSideEncryptionConfiguration));
  // Real S3 encrypts every bucket with AES256 since 2023; emulators and older APIs may say "none".
  return noneAs(read, 'ServerSideEncryptionConfigurationNotFoundError', undefined);
};

export const readTags = (s3: S3ForRegion, ref: BucketRef): Promise<Record<string, string>> =>
  noneAs(s3(ref.region).send(new GetBucketTaggingCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner }))
    .then(({ TagSet = [] }) => Object.fromEntries(TagSet.filter((tag) => tag.Key !== undefined).map((tag) => [tag.Key, tag.Value ?? '']))), 'NoSuchTagSet', {});

export const readPolicy = (s3: S3ForRegion, ref: BucketRef): Promise<string | null> =>
  noneAs(s3(ref.region).send(new GetBucketPolicyCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner }))
    .then(({ Policy }) => Policy ?? null), 'NoSuchBucketPolicy', null);

export const readPublicAccessBlock = (s3: S3ForRegion, ref: BucketRef): Promise<PublicAccessBlock | null> =>
  noneAs(s3(ref.region).send(new GetPublicAccessBlockCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner }))
    .then(({ PublicAccessBlockConfiguration }) => PublicAccessBlockConfiguration ?? null), 'NoSuchPublicAccessBlockConfiguration', null);

/** Any website configuration, hosting or redirect-all: both are served by the HTTP-only website endpoint. */
export const readWebsite = (s3: S3ForRegion, ref: BucketRef): Promise<boolean> =>
  noneAs(s3(ref.region).send(new GetBucketWebsiteCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner })).then(() => true), 'NoSuchWebsiteConfiguration', false);

export class BucketGoneError extends Error {
  constructor(bucket: string) {
    super(`bucket ${bucket} no longer exists`);
    this.name = 'BucketGoneError';
  }
}

/**
 * Encryption and tags (and the policy, Block Public Access and website configuration, if asked) in
 * parallel. When S3 answers that the bucket lives in another region than the event said, the reads are
 * made again there, once.
 */
export const readBucketState = async (s3: S3ForRegion, ref: BucketRef, extra: ExtraReads): Promise<BucketState> => {
  const attempt = async (region: string): Promise<BucketState> => {
    const at = { ...ref, region };
    const [encryption, tags, policy, publicAccessBlock, website] = await Promise.all([
      readEncryption(s3, at),
      readTags(s3, at),
      extra.policy ? unlessDenied(readPolicy(s3, at)) : undefined,
      extra.publicAccessBlock ? unlessDenied(readPublicAccessBlock(s3, at)) : undefined,
      extra.website ? unlessDenied(readWebsite(s3, at)) : undefined,
    ]);
    return {
      region, encryption, tags,
      ...(policy !== undefined ? { policy } : {}), ...(publicAccessBlock !== undefined ? { publicAccessBlock } : {}), ...(website !== undefined ? { website } : {}),
    };
  };
  try {
    return await attempt(ref.region);
  } catch (error) {
    if (isNoSuchBucket(error)) throw new BucketGoneError(ref.bucket);
    const actual = redirectRegion(error);
    if (!actual || actual === ref.region) throw error;
    try {
      return await attempt(actual);
    } catch (retryError) {
      if (isNoSuchBucket(retryError)) throw new BucketGoneError(ref.bucket);
      throw retryError;
    }
  }
};

/**
 * Writes (or, for `null`, deletes) the bucket policy. The caller re-reads it just before (apply-plans.ts):
 * S3 has no conditional policy write. `ConfirmRemoveSelfBucketAccess` is never set.
 */
export const writePolicy = async (s3: S3ForRegion, ref: BucketRef, text: string | null): Promise<void> => {
  const client = s3(ref.region);
  if (text === null) await client.send(new DeleteBucketPolicyCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner }));
  else await client.send(new PutBucketPolicyCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner, Policy: text }));
};

export const writePublicAccessBlock = async (s3: S3ForRegion, ref: BucketRef, configuration: Required<PublicAccessBlock>): Promise<void> => {
  await s3(ref.region).send(new PutPublicAccessBlockCommand({ Bucket: ref.bucket, ExpectedBucketOwner: ref.owner, PublicAccessBlockConfiguration: configuration }));
};

export const writeEncryption = async (s3: S3ForRegion, ref: BucketRef, rule: EncryptionRule): Promise<void> => {
  await s3(ref.region).send(new PutBucketEncryptionCommand({
    Bucket: ref.bucket,
    ExpectedBucketOwner: ref.owner,
    ServerSideEncryptionConfiguration: toS3(rule),
  }));
};

export interface BucketPage {
  buckets: { name: string; region?: string }[];
  /** The token that lists the page after this one; absent on the last page. */
  nextToken?: string;
}

/**
 * The account's buckets, a page at a time: those of `region` (a regional guard), or with `allRegions`
 * those of every region (the hub), each with the region ListBuckets gives it.
 */
export async function* listBucketPages(s3: S3ForRegion, region: string, pageSize: number, startToken?: string, allRegions = false): AsyncGenerator<BucketPage> {
  const pages = paginateListBuckets(
    { client: s3(region), pageSize, ...(startToken ? { startingToken: startToken } : {}) },
    allRegions ? {} : { BucketRegion: region },
  );
  for await (const page of pages) {
    yield {
      buckets: (page.Buckets ?? []).filter((bucket) => bucket.Name).map((bucket) => ({ name: bucket.Name!, ...(bucket.BucketRegion ? { region: bucket.BucketRegion } : {}) })),
      ...(page.ContinuationToken ? { nextToken: page.ContinuationToken } : {}),
    };
  }
}
