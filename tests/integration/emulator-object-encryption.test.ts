/**
 * The emulator's UpdateObjectEncryption (scripts/emulator/s3_object_encryption.py), checked with the real SDK
 * against the rules of the API reference, so that the guard's emulator tests mean what they would on S3:
 * https://docs.aws.amazon.com/AmazonS3/latest/API/API_UpdateObjectEncryption.html
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/update-sse-encryption.html
 */
import { createHash } from 'node:crypto';
import {
  CreateBucketCommand, GetObjectCommand, HeadObjectCommand, type HeadObjectCommandOutput, PutBucketVersioningCommand, PutObjectCommand, type PutObjectCommandInput,
  PutObjectLegalHoldCommand, S3Client, UpdateObjectEncryptionCommand, type UpdateObjectEncryptionCommandInput,
} from '@aws-sdk/client-s3';
import { useEmulator } from '../emulator-env';
import { admin, REGION, uniqueBucket } from './aws';

const s3Admin = admin();
const { s3 } = s3Admin;
const customerKey = Buffer.alloc(32, 7);
const SSE_C = { SSECustomerAlgorithm: 'AES256', SSECustomerKey: customerKey.toString('base64'), SSECustomerKeyMD5: createHash('md5').update(customerKey).digest('base64') };

let bucket: string;
let keyA: string;
let keyB: string;

const put = (Key: string, extra: Partial<PutObjectCommandInput> = {}) =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key, Body: `body of ${Key}`, Metadata: { owner: 'team-a' }, ContentType: 'text/plain', ...extra }));
const head = (Key: string, VersionId?: string): Promise<HeadObjectCommandOutput> => s3.send(new HeadObjectCommand({ Bucket: bucket, Key, ...(VersionId ? { VersionId } : {}) }));
const update = (Key: string, KMSKeyArn: string, extra: Partial<UpdateObjectEncryptionCommandInput> = {}) =>
  s3.send(new UpdateObjectEncryptionCommand({ Bucket: bucket, Key, ObjectEncryption: { SSEKMS: { KMSKeyArn, BucketKeyEnabled: true } }, ...extra }));
const rejection = async (promise: Promise<unknown>): Promise<{ name: string; status?: number; message: string }> => {
  try {
    await promise;
  } catch (error) {
    const e = error as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
  throw new Error('expected the request to fail');
};
const invalidRequest = { name: 'InvalidRequest', status: 400 };
const OWNER = '123456789012';
const OTHER_ACCOUNT = '210987654321';

/** A client whose requests the emulator attributes to another account (moto's x-moto-account-id header). */
const clientOf = (account: string): S3Client => {
  const client = new S3Client({ region: REGION, endpoint: useEmulator(), forcePathStyle: true });
  client.middlewareStack.add((next) => async (args) => {
    (args.request as { headers: Record<string, string> }).headers['x-moto-account-id'] = account;
    return next(args);
  }, { step: 'build', name: 'motoAccount' });
  return client;
};

beforeAll(async () => {
  bucket = uniqueBucket('uoe');
  await s3Admin.createBucket(bucket);
  [keyA, keyB] = await Promise.all([s3Admin.createKey(), s3Admin.createKey()]);
});

describe('the emulator\'s UpdateObjectEncryption', () => {
  it('changes an SSE-S3 object to SSE-KMS with a bucket key in place: body, metadata, ETag, dates and storage class unchanged', async () => {
    await put('sse-s3.txt', { ServerSideEncryption: 'AES256', StorageClass: 'STANDARD_IA' });
    const before = await head('sse-s3.txt');
    await new Promise((resolve) => setTimeout(resolve, 1100)); // a rewrite would show a later second
    await update('sse-s3.txt', keyA);
    const after = await head('sse-s3.txt');
    expect(after).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyA, BucketKeyEnabled: true });
    expect(after.ETag).toBe(before.ETag);
    expect(after.LastModified).toEqual(before.LastModified);
    expect(after.Metadata).toEqual({ owner: 'team-a' });
    expect(after.ContentType).toBe('text/plain');
    expect(after.StorageClass).toBe('STANDARD_IA');
    expect(await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'sse-s3.txt' }))).Body!.transformToString()).toBe('body of sse-s3.txt');
  });

  it('moves an object from one customer managed key to another, and applies a bucket key to an SSE-KMS object', async () => {
    await put('on-a.txt', { ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyA });
    await update('on-a.txt', keyB);
    expect(await head('on-a.txt')).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyB, BucketKeyEnabled: true });
    await s3.send(new UpdateObjectEncryptionCommand({ Bucket: bucket, Key: 'on-a.txt', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyB, BucketKeyEnabled: false } } }));
    expect((await head('on-a.txt')).BucketKeyEnabled).toBeUndefined();
  });

  it('refuses unencrypted, DSSE-KMS and SSE-C sources with InvalidRequest, leaving them as they are', async () => {
    await put('plain.txt'); // the emulator's buckets have no default encryption (S3's have SSE-S3)
    await put('dsse.txt', { ServerSideEncryption: 'aws:kms:dsse', SSEKMSKeyId: keyA });
    await put('sse-c.txt', SSE_C);
    expect(await rejection(update('plain.txt', keyA))).toMatchObject({ ...invalidRequest, message: expect.stringMatching(/unencrypted source objects/) });
    expect(await rejection(update('dsse.txt', keyA))).toMatchObject({ ...invalidRequest, message: expect.stringMatching(/DSSE-KMS or SSE-C/) });
    expect(await rejection(update('sse-c.txt', keyA))).toMatchObject({ ...invalidRequest, message: expect.stringMatching(/DSSE-KMS or SSE-C/) });
    expect((await head('plain.txt')).ServerSideEncryption).toBeUndefined();
    expect((await head('dsse.txt')).ServerSideEncryption).toBe('aws:kms:dsse');
  });

  it('serves SSE-C objects as S3 does: a HEAD without the customer key is a 400, with it the algorithm is shown', async () => {
    await put('secret.txt', SSE_C);
    expect(await rejection(head('secret.txt'))).toMatchObject({ status: 400 });
    expect(await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: 'secret.txt', ...SSE_C }))).toMatchObject({ SSECustomerAlgorithm: 'AES256', SSECustomerKeyMD5: SSE_C.SSECustomerKeyMD5 });
  });

  it('refuses an SSE-S3 (or any non-SSE-KMS) target with InvalidRequest', async () => {
    await put('target.txt', { ServerSideEncryption: 'AES256' });
    const command = new UpdateObjectEncryptionCommand({ Bucket: bucket, Key: 'target.txt', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyA } } });
    // The SDK only builds SSE-KMS targets: the body is rewritten on the wire, as another client could send it.
    command.middlewareStack.add((next) => async (args) => {
      const request = args.request as { body?: unknown; headers: Record<string, string> };
      request.body = '<ObjectEncryption xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><SSE-S3/></ObjectEncryption>';
      request.headers['content-length'] = String(Buffer.byteLength(request.body as string));
      return next(args);
    }, { step: 'build', name: 'sseS3Target', priority: 'low' });
    expect(await rejection(s3.send(command))).toMatchObject({ ...invalidRequest, message: expect.stringMatching(/Valid values are SSEKMS/) });
    expect((await head('target.txt')).ServerSideEncryption).toBe('AES256');
  });

  it('refuses a key of another account (AccessDenied), a disabled key, and a malformed ARN', async () => {
    await put('keys.txt', { ServerSideEncryption: 'AES256' });
    const foreign = keyA.replace(/:\d{12}:/, ':210987654321:');
    expect(await rejection(update('keys.txt', foreign))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await rejection(update('keys.txt', await s3Admin.createKey('Disabled')))).toMatchObject({ name: 'KMS.DisabledException', status: 400 });
    expect(await rejection(update('keys.txt', 'alias/aws/s3'))).toMatchObject(invalidRequest);
    expect((await head('keys.txt')).ServerSideEncryption).toBe('AES256');
  });

  it('checks ExpectedBucketOwner against the bucket\'s owner, not the caller: another account naming itself is refused', async () => {
    await put('owned.txt', { ServerSideEncryption: 'AES256' });
    const byOther = clientOf(OTHER_ACCOUNT);
    const request = (ExpectedBucketOwner: string) =>
      new UpdateObjectEncryptionCommand({ Bucket: bucket, Key: 'owned.txt', ExpectedBucketOwner, ObjectEncryption: { SSEKMS: { KMSKeyArn: keyA, BucketKeyEnabled: true } } });
    expect(await rejection(byOther.send(request(OTHER_ACCOUNT)))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect(await rejection(s3.send(request(OTHER_ACCOUNT)))).toMatchObject({ name: 'AccessDenied', status: 403 });
    expect((await head('owned.txt')).ServerSideEncryption).toBe('AES256');
    // Naming the owner passes the check (the emulator models no bucket policy: a caller of another account is not refused for that).
    await byOther.send(request(OWNER));
    expect(await head('owned.txt')).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyA });
  });

  it('refuses an object under a legal hold or an unexpired retention, and re-keys one whose retention has expired', async () => {
    const locked = uniqueBucket('uoe-lock');
    await s3.send(new CreateBucketCommand({ Bucket: locked, ObjectLockEnabledForBucket: true }));
    const putLocked = (Key: string, extra: Partial<PutObjectCommandInput>) =>
      s3.send(new PutObjectCommand({ Bucket: locked, Key, Body: Key, ServerSideEncryption: 'AES256', ...extra }));
    const updateLocked = (Key: string) => s3.send(new UpdateObjectEncryptionCommand({ Bucket: locked, Key, ObjectEncryption: { SSEKMS: { KMSKeyArn: keyA, BucketKeyEnabled: true } } }));
    const retainFor = (ms: number) => ({ ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: new Date(Date.now() + ms) });
    await putLocked('held.txt', {});
    await s3.send(new PutObjectLegalHoldCommand({ Bucket: locked, Key: 'held.txt', LegalHold: { Status: 'ON' } }));
    await putLocked('retained.txt', retainFor(24 * 60 * 60 * 1000));
    await putLocked('expiring.txt', retainFor(1500));
    expect(await rejection(updateLocked('held.txt'))).toMatchObject({ name: 'AccessDenied', status: 403, message: expect.stringMatching(/Object Lock/) });
    expect(await rejection(updateLocked('retained.txt'))).toMatchObject({ name: 'AccessDenied', status: 403, message: expect.stringMatching(/Object Lock/) });
    await new Promise((resolve) => setTimeout(resolve, 2100)); // the retain-until date (whole seconds) is now past
    await updateLocked('expiring.txt');
    expect(await s3.send(new HeadObjectCommand({ Bucket: locked, Key: 'expiring.txt' }))).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyA });
  });

  it('answers NoSuchKey for a missing object, and NoSuchBucket for a missing bucket', async () => {
    expect(await rejection(update('missing.txt', keyA))).toMatchObject({ name: 'NoSuchKey', status: 404 });
    expect(await rejection(s3.send(new UpdateObjectEncryptionCommand({ Bucket: uniqueBucket('gone'), Key: 'x', ObjectEncryption: { SSEKMS: { KMSKeyArn: keyA } } }))))
      .toMatchObject({ name: 'NoSuchBucket', status: 404 });
  });

  it('updates exactly the version named by VersionId, leaving the current one alone', async () => {
    const versioned = uniqueBucket('uoe-versions');
    await s3Admin.createBucket(versioned);
    await s3.send(new PutBucketVersioningCommand({ Bucket: versioned, VersioningConfiguration: { Status: 'Enabled' } }));
    const old = await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'v.txt', Body: 'v1', ServerSideEncryption: 'AES256' }));
    const current = await s3.send(new PutObjectCommand({ Bucket: versioned, Key: 'v.txt', Body: 'v2', ServerSideEncryption: 'AES256' }));
    await s3.send(new UpdateObjectEncryptionCommand({ Bucket: versioned, Key: 'v.txt', VersionId: old.VersionId, ObjectEncryption: { SSEKMS: { KMSKeyArn: keyA, BucketKeyEnabled: true } } }));
    const headVersion = (VersionId?: string) => s3.send(new HeadObjectCommand({ Bucket: versioned, Key: 'v.txt', ...(VersionId ? { VersionId } : {}) }));
    expect(await headVersion(old.VersionId)).toMatchObject({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: keyA });
    expect(await headVersion()).toMatchObject({ ServerSideEncryption: 'AES256', VersionId: current.VersionId });
  });

  it('leaves every other request to moto: PutBucketEncryption on the same "?encryption" subresource still works', async () => {
    const configured = uniqueBucket('uoe-config');
    await s3Admin.createBucket(configured, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: keyA } }] } });
    expect(await s3Admin.encryptionOf(configured)).toMatchObject({ algorithm: 'aws:kms', kmsKeyId: keyA });
  });
});
