/**
 * S3's 409 OperationAborted ("a conflicting conditional operation is currently in progress against this
 * resource. Try again.") is retried by the SDK's own retry strategy, through the middleware the guard's
 * S3 clients carry — except for the writes that could replace another writer's choice, which the guard
 * re-reads before trying again (apply-plans.ts). The request reaches a fake HTTP handler, so the real
 * deserializer and retry run.
 */
import { Readable } from 'node:stream';
import { PutBucketEncryptionCommand, PutPublicAccessBlockCommand, S3Client } from '@aws-sdk/client-s3';
import { HttpResponse } from '@smithy/core/transport';
import { retryOperationAborted } from '../../lib/aws-clients';
import { isTransient } from '../../lib/aws-errors';

const ABORTED = '<?xml version="1.0" encoding="UTF-8"?><Error><Code>OperationAborted</Code><Message>A conflicting conditional operation is currently in progress against this resource. Try again.</Message><RequestId>R</RequestId></Error>';

/** An S3 client whose first `failures` requests get 409 OperationAborted, then 200. */
const s3Answering = (failures: number, withMiddleware = true) => {
  let requests = 0;
  const client = new S3Client({
    region: 'us-east-1', credentials: { accessKeyId: 'k', secretAccessKey: 's' }, maxAttempts: 3, retryMode: 'standard',
    requestHandler: {
      handle: async () => {
        requests += 1;
        const failed = requests <= failures;
        return { response: new HttpResponse({ statusCode: failed ? 409 : 200, headers: { 'content-type': 'application/xml' }, body: Readable.from([failed ? ABORTED : '']) }) };
      },
    },
  });
  if (withMiddleware) client.middlewareStack.use(retryOperationAborted);
  const put = () => client.send(new PutPublicAccessBlockCommand({ Bucket: 'b', PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true } }));
  const putRule = () => client.send(new PutBucketEncryptionCommand({ Bucket: 'b', ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } }));
  return { put, putRule, requests: () => requests };
};

describe('409 OperationAborted on a Block Public Access write (all four on: cannot weaken anything)', () => {
  it('is retried by the SDK and the write succeeds', async () => {
    const s3 = s3Answering(2);
    await expect(s3.put()).resolves.toBeDefined();
    expect(s3.requests()).toBe(3);
  });

  it('is not retried blindly for a rule or policy write: another writer may be the cause, so the guard re-reads first', async () => {
    const s3 = s3Answering(1);
    await expect(s3.putRule()).rejects.toMatchObject({ name: 'OperationAborted' });
    expect(s3.requests()).toBe(1);
  });

  it('without the middleware the SDK would give up at once (why it exists)', async () => {
    const s3 = s3Answering(1, false);
    await expect(s3.put()).rejects.toMatchObject({ name: 'OperationAborted' });
    expect(s3.requests()).toBe(1);
  });

  it('when it outlasts the retries, it is transient: the event goes back to the queue, no FAILED finding', async () => {
    const s3 = s3Answering(10);
    const error = await s3.put().catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'OperationAborted', $metadata: { httpStatusCode: 409 } });
    expect(s3.requests()).toBe(3);
    expect(isTransient(error)).toBe(true);
  });
});
