/**
 * S3 adapter for objects: list a page, read one object's encryption (`HeadObject`), re-key it in place
 * (`UpdateObjectEncryption`). Every call carries `ExpectedBucketOwner`.
 */
import {
  HeadObjectCommand, ListObjectsV2Command, ListObjectVersionsCommand, UpdateObjectEncryptionCommand,
} from '@aws-sdk/client-s3';
import { httpStatus } from '../aws-errors';
import type { BucketRef, S3ForRegion } from '../bucket-state';
import type { ReencryptVersions } from '../config';
import { isLocked, type ObjectEncryptionState } from './classify';

export interface ListedObject {
  key: string;
  /** Set when versions are listed; a current-version listing leaves it to `HeadObject`. */
  versionId?: string;
  size: number;
}

/** Where the next listing page starts: ListObjectsV2's token, or ListObjectVersions' markers. */
export type PageCursor = { continuationToken: string } | { keyMarker: string; versionIdMarker?: string };

export interface ObjectPage {
  objects: ListedObject[];
  next?: PageCursor;
}

export const PAGE_SIZE = 1000;

export const listObjectPage = async (s3: S3ForRegion, ref: BucketRef, versions: ReencryptVersions, cursor?: PageCursor, maxKeys = PAGE_SIZE): Promise<ObjectPage> => {
  const client = s3(ref.region);
  const common = { Bucket: ref.bucket, ExpectedBucketOwner: ref.owner, MaxKeys: maxKeys };
  if (versions === 'current') {
    const page = await client.send(new ListObjectsV2Command({ ...common, ...(cursor && 'continuationToken' in cursor ? { ContinuationToken: cursor.continuationToken } : {}) }));
    return {
      objects: (page.Contents ?? []).filter((object) => object.Key !== undefined).map((object) => ({ key: object.Key!, size: object.Size ?? 0 })),
      ...(page.IsTruncated && page.NextContinuationToken ? { next: { continuationToken: page.NextContinuationToken } } : {}),
    };
  }
  const page = await client.send(new ListObjectVersionsCommand({
    ...common, ...(cursor && 'keyMarker' in cursor ? { KeyMarker: cursor.keyMarker, ...(cursor.versionIdMarker ? { VersionIdMarker: cursor.versionIdMarker } : {}) } : {}),
  }));
  // Delete markers have no data and no encryption: they are not listed here.
  return {
    objects: (page.Versions ?? []).filter((version) => version.Key !== undefined)
      .map((version) => ({ key: version.Key!, size: version.Size ?? 0, ...(version.VersionId && version.VersionId !== 'null' ? { versionId: version.VersionId } : {}) })),
    ...(page.IsTruncated && page.NextKeyMarker ? { next: { keyMarker: page.NextKeyMarker, ...(page.NextVersionIdMarker ? { versionIdMarker: page.NextVersionIdMarker } : {}) } } : {}),
  };
};

export interface HeadResult {
  state: ObjectEncryptionState;
  /** The version read: the update names it, so a newer object written meanwhile is not the one changed. */
  versionId?: string;
}

/**
 * The object's encryption. An SSE-C object cannot be read without its key: S3 answers 400 (a HEAD has no
 * error body), https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadObject.html
 */
export const headObject = async (s3: S3ForRegion, ref: BucketRef, object: ListedObject): Promise<HeadResult> => {
  try {
    const head = await s3(ref.region).send(new HeadObjectCommand({
      Bucket: ref.bucket, Key: object.key, ExpectedBucketOwner: ref.owner, ...(object.versionId ? { VersionId: object.versionId } : {}),
    }));
    const versionId = head.VersionId && head.VersionId !== 'null' ? head.VersionId : undefined;
    if (head.SSECustomerAlgorithm) return { state: { kind: 'sse-c' }, ...(versionId ? { versionId } : {}) };
    return {
      state: {
        kind: 'read',
        ...(head.ServerSideEncryption ? { algorithm: head.ServerSideEncryption } : {}),
        ...(head.SSEKMSKeyId ? { kmsKeyId: head.SSEKMSKeyId } : {}),
        ...(head.BucketKeyEnabled !== undefined ? { bucketKeyEnabled: head.BucketKeyEnabled } : {}),
        ...(isLocked(head, Date.now()) ? { locked: true } : {}),
      },
      ...(versionId ? { versionId } : {}),
    };
  } catch (error) {
    if (httpStatus(error) === 400) return { state: { kind: 'sse-c' }, ...(object.versionId ? { versionId: object.versionId } : {}) };
    throw error;
  }
};

export const updateObjectEncryption = async (
  s3: S3ForRegion, ref: BucketRef, key: string, versionId: string | undefined, target: { keyArn: string; bucketKeyEnabled: boolean },
): Promise<void> => {
  await s3(ref.region).send(new UpdateObjectEncryptionCommand({
    Bucket: ref.bucket, Key: key, ExpectedBucketOwner: ref.owner, ...(versionId ? { VersionId: versionId } : {}),
    ObjectEncryption: { SSEKMS: { KMSKeyArn: target.keyArn, BucketKeyEnabled: target.bucketKeyEnabled } },
  }));
};
