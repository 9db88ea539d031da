/**
 * Fault injection: what the guard does when AWS fails, through `enforceBucket`, the `enforceBucket`
 * handler (SQS batch with partial-batch failures) and the sweep. The contract (DESIGN.md, "Delivery"):
 *
 * - transient (throttling, SlowDown, 5xx, timeouts, dropped connections): `enforceBucket` throws; the
 *   handler reports the record in `batchItemFailures` so SQS delivers it again (and, after
 *   maxReceiveCount, moves it to the dead-letter queue with its body intact); no finding is logged for
 *   that attempt; every other record of the batch is handled as usual;
 * - permanent (AccessDenied, a bucket of another account, an invalid request): one finding, ERROR or
 *   FAILED, counted in `RemediationsFailed`; never retried;
 * - the bucket deleted under the guard (or never created): no finding and no metric, one "bucket not
 *   found" line; never retried.
 * (DynamoDB unavailable — the flap-protection ledger — is not covered here yet.)
 *
 * SDK retries: in production each call gets 5 adaptive attempts before an error reaches the guard. Here
 * `testGuard` sets AWS_MAX_ATTEMPTS=1 — and aws-sdk-client-mock replaces `Client#send`, so the SDK's
 * retry middleware does not run at all: each simulated error is exactly what the guard sees after the
 * SDK's last attempt. The error shapes follow the SDK (`name`, `$metadata.httpStatusCode`, `$fault`) and
 * @smithy/node-http-handler (socket timeouts and ECONNRESET/EPIPE/ETIMEDOUT renamed `TimeoutError`;
 * other network errors keep Node's `name: "Error"` and carry the errno in `code`).
 */
import { DescribeKeyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { LambdaClient } from '@aws-sdk/client-lambda';
import {
  GetBucketEncryptionCommand, GetBucketPolicyCommand, GetBucketTaggingCommand, ListBucketsCommand, PutBucketEncryptionCommand, S3Client,
  type ServerSideEncryptionConfiguration,
} from '@aws-sdk/client-s3';
import { STSClient } from '@aws-sdk/client-sts';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createBucketEventHandler } from '../../handlers/bucket-event';
import { createSweepHandler } from '../../handlers/sweep';
import { createClients } from '../../lib/aws-clients';
import { enforceBucket, findingOf, type EnforceRequest } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import type { Guard } from '../../lib/guard';
import { createKeyLookup } from '../../lib/key-lookup';
import { createTelemetrySink, type FindingSink, logger, metrics, metricsFor, type NotEvaluated } from '../../lib/telemetry';
import { s3Error, testGuard } from './aws-mocks';
import { ACCOUNT, config, configFor, KEYS, REGION } from './fixtures';

const s3 = mockClient(S3Client);
const kms = mockClient(KMSClient);
const sts = mockClient(STSClient);
const lambda = mockClient(LambdaClient);

const context = { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3-encryption-guard-dev-enforceBucket`, awsRequestId: 'r-faults' };
const MODE_TAG = 'encryption-guard:mode';

// ---------------------------------------------------------------------------------------------------
// A small S3 and KMS: per-bucket default encryption and tags; a write changes what later reads return.
// Faults are injected per call site and bucket and stay until `heal()` (the next delivery by SQS).

type Site = 'GetBucketEncryption' | 'GetBucketTagging' | 'PutBucketEncryption' | 'read-back' | 'DescribeKey' | 'GetKeyRotationStatus';
const AES256: ServerSideEncryptionConfiguration = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] };

const world = {
  /** Default encryption per bucket; `undefined`: none; absent: AES256 (what S3 gives every bucket). */
  rules: new Map<string, ServerSideEncryptionConfiguration | undefined>(),
  tags: new Map<string, Record<string, string>>(),
  /** Buckets the guard wrote: their next GetBucketEncryption is the read-back (site `read-back`). */
  written: new Set<string>(),
  faults: new Map<string, Error>(),
  keyState: 'Enabled' as string,
  onWrite: undefined as ((bucket: string) => void) | undefined,
};
const fault = (site: Site, target: string, error: Error): Error => {
  world.faults.set(`${site} ${target}`, error);
  return error;
};
const heal = (): void => world.faults.clear();
const raise = (site: Site, target: string): void => {
  const error = world.faults.get(`${site} ${target}`) ?? world.faults.get(`${site} *`);
  if (error) throw error;
};
const unencrypted = (...buckets: string[]): void => buckets.forEach((bucket) => world.rules.set(bucket, undefined));

beforeEach(() => {
  for (const mock of [s3, kms, sts, lambda]) mock.reset();
  world.rules.clear();
  world.tags.clear();
  world.written.clear();
  world.faults.clear();
  world.keyState = 'Enabled';
  world.onWrite = undefined;
  s3.on(GetBucketEncryptionCommand).callsFake(async ({ Bucket }: { Bucket: string }) => {
    raise(world.written.has(Bucket) ? 'read-back' : 'GetBucketEncryption', Bucket);
    const rule = world.rules.has(Bucket) ? world.rules.get(Bucket) : AES256;
    if (!rule) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
    return { ServerSideEncryptionConfiguration: rule };
  });
  s3.on(GetBucketTaggingCommand).callsFake(async ({ Bucket }: { Bucket: string }) => {
    raise('GetBucketTagging', Bucket);
    const tags = world.tags.get(Bucket);
    if (!tags) throw s3Error('NoSuchTagSet', 404);
    return { TagSet: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })) };
  });
  s3.on(GetBucketPolicyCommand).rejects(s3Error('NoSuchBucketPolicy', 404));
  s3.on(PutBucketEncryptionCommand).callsFake(async ({ Bucket, ServerSideEncryptionConfiguration: rule }: { Bucket: string; ServerSideEncryptionConfiguration: ServerSideEncryptionConfiguration }) => {
    raise('PutBucketEncryption', Bucket);
    world.rules.set(Bucket, rule); // S3 does not validate KMSMasterKeyID
    world.written.add(Bucket);
    world.onWrite?.(Bucket);
    return {};
  });
  kms.on(DescribeKeyCommand).callsFake(async ({ KeyId }: { KeyId: string }) => {
    raise('DescribeKey', KeyId);
    return { KeyMetadata: { KeyId: KeyId.split('/')[1], Arn: KeyId, AWSAccountId: ACCOUNT, KeyState: world.keyState, KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } };
  });
  kms.on(GetKeyRotationStatusCommand).callsFake(async ({ KeyId }: { KeyId: string }) => {
    raise('GetKeyRotationStatus', KeyId);
    return { KeyRotationEnabled: true };
  });
});

// ---------------------------------------------------------------------------------------------------
// Errors as the SDK surfaces them after its last attempt.

const attempts = { attempts: 5, totalRetryDelay: 2870 };
const awsError = (name: string, status: number): Error => s3Error(name, status, { $metadata: { httpStatusCode: status, ...attempts } });
/** A socket or connection timeout: node-http-handler names it TimeoutError. */
const timeoutError = (): Error => Object.assign(new Error('@smithy/node-http-handler - the request socket timed out after 30000 ms of inactivity (configured by client requestHandler).'), { name: 'TimeoutError', $metadata: attempts });
/**
 * A Node network error. @smithy/node-http-handler renames ECONNRESET, EPIPE and ETIMEDOUT to
 * TimeoutError; a refused connection or a DNS failure reaches the guard as { name: 'Error', code:
 * 'ECONNREFUSED' | 'EAI_AGAIN', $metadata: { attempts, totalRetryDelay } } (checked against a real
 * S3Client pointed at a closed local port). The SDK itself classifies and retries both as transient.
 */
const networkError = (code: string, message: string): Error => {
  const renamed = ['ECONNRESET', 'EPIPE', 'ETIMEDOUT'].includes(code);
  return Object.assign(new Error(message), { code, errno: -1, syscall: 'connect', ...(renamed ? { name: 'TimeoutError' } : {}), $metadata: attempts });
};

// ---------------------------------------------------------------------------------------------------
// Events, records and a sink that remembers everything.

const cloudTrailEvent = (bucket: string, eventName = 'CreateBucket') => ({
  version: '0', id: `id-${bucket}`, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: ACCOUNT, region: REGION, time: '2026-11-27T10:00:00Z', resources: [],
  detail: {
    eventVersion: '1.10', eventSource: 's3.amazonaws.com', eventName, awsRegion: REGION, eventID: `evt-${bucket}-${eventName}`, readOnly: false,
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/alice` }, requestParameters: { bucketName: bucket }, recipientAccountId: ACCOUNT,
  },
});
const sqsRecord = (messageId: string, body: string): SQSRecord => ({
  messageId, receiptHandle: `rh-${messageId}`, body, attributes: { ApproximateReceiveCount: '1' } as SQSRecord['attributes'], messageAttributes: {}, md5OfBody: '',
  eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:s3-encryption-guard-dev-SettleQueue`, awsRegion: REGION,
});
/** One CreateBucket message per bucket, ids m1, m2, ... */
const batchOf = (...buckets: string[]): SQSEvent => ({ Records: buckets.map((bucket, index) => sqsRecord(`m${index + 1}`, JSON.stringify(cloudTrailEvent(bucket)))) });

const recorder = () => {
  const findings: Finding[] = [];
  const ignored: string[] = [];
  const retrying: { bucket: string; error: unknown }[] = [];
  const notEvaluated: NotEvaluated[] = [];
  let flushes = 0;
  const sink: FindingSink = {
    finding: (finding) => { findings.push(finding); },
    ignored: (reason) => { ignored.push(reason); },
    notEvaluated: (what) => { notEvaluated.push(what); },
    retrying: (bucket, error) => { retrying.push({ bucket, error }); },
    flush: async () => { flushes += 1; },
  };
  const of = (bucket: string): Finding[] => findings.filter((finding) => finding.bucket === bucket);
  return { sink, findings, ignored, retrying, notEvaluated, of, flushes: () => flushes };
};

const request = (bucket: string): EnforceRequest => ({ bucket, region: REGION, accountId: ACCOUNT, trigger: { type: 'event', eventName: 'CreateBucket', eventId: `evt-${bucket}` } });
const codes = (finding: Finding): string[] => finding.violations.map((violation) => violation.code);

// ---------------------------------------------------------------------------------------------------

/** A config whose victim bucket (tag-driven) needs the listed customer key; the others stay SSE_S3. */
const kmsVictim = (bucket: string): Guard => {
  world.tags.set(bucket, { [MODE_TAG]: 'SSE_KMS_CUSTOMER_MANAGED' });
  return testGuard(config({ kmsKeyArns: [KEYS.listed] }));
};

interface TransientCase {
  what: string;
  site: Site;
  error: () => Error;
  /** What the next delivery (faults healed) logs for the bucket. */
  retried: Pick<Finding, 'verdict' | 'action'>;
  /** The bucket needs the customer-managed key (KMS call sites). */
  kms?: boolean;
}

const REMEDIATED = { verdict: 'NONCOMPLIANT', action: 'REMEDIATED' } as const;
const TRANSIENT: TransientCase[] = [
  { what: 'Throttling on GetBucketEncryption', site: 'GetBucketEncryption', error: () => awsError('Throttling', 400), retried: REMEDIATED },
  { what: 'ThrottlingException on GetBucketTagging', site: 'GetBucketTagging', error: () => awsError('ThrottlingException', 400), retried: REMEDIATED },
  { what: 'SlowDown (503) on GetBucketEncryption', site: 'GetBucketEncryption', error: () => awsError('SlowDown', 503), retried: REMEDIATED },
  { what: 'SlowDown (503) on GetBucketTagging', site: 'GetBucketTagging', error: () => awsError('SlowDown', 503), retried: REMEDIATED },
  { what: '500 InternalError on GetBucketEncryption', site: 'GetBucketEncryption', error: () => awsError('InternalError', 500), retried: REMEDIATED },
  { what: '503 ServiceUnavailable on GetBucketEncryption', site: 'GetBucketEncryption', error: () => awsError('ServiceUnavailable', 503), retried: REMEDIATED },
  { what: '500 InternalError on PutBucketEncryption', site: 'PutBucketEncryption', error: () => awsError('InternalError', 500), retried: REMEDIATED },
  { what: '503 ServiceUnavailable on PutBucketEncryption', site: 'PutBucketEncryption', error: () => awsError('ServiceUnavailable', 503), retried: REMEDIATED },
  { what: 'SlowDown (503) on PutBucketEncryption', site: 'PutBucketEncryption', error: () => awsError('SlowDown', 503), retried: REMEDIATED },
  // The write went through: the next delivery finds the bucket compliant.
  { what: '503 on the read-back after a successful write', site: 'read-back', error: () => awsError('ServiceUnavailable', 503), retried: { verdict: 'COMPLIANT', action: 'NONE' } },
  { what: 'a socket timeout (TimeoutError) on GetBucketEncryption', site: 'GetBucketEncryption', error: timeoutError, retried: REMEDIATED },
  { what: 'a socket timeout (TimeoutError) on PutBucketEncryption', site: 'PutBucketEncryption', error: timeoutError, retried: REMEDIATED },
  { what: 'ETIMEDOUT on GetBucketTagging', site: 'GetBucketTagging', error: () => networkError('ETIMEDOUT', 'connect ETIMEDOUT 52.217.0.1:443'), retried: REMEDIATED },
  { what: 'ECONNRESET on PutBucketEncryption', site: 'PutBucketEncryption', error: () => networkError('ECONNRESET', 'socket hang up'), retried: REMEDIATED },
  { what: 'S3 400 RequestTimeout (socket not read in time)', site: 'GetBucketEncryption', error: () => awsError('RequestTimeout', 400), retried: REMEDIATED },
  { what: 'ECONNREFUSED on GetBucketEncryption (connection refused)', site: 'GetBucketEncryption', error: () => networkError('ECONNREFUSED', 'connect ECONNREFUSED 52.217.0.1:443'), retried: REMEDIATED },
  { what: 'EAI_AGAIN on GetBucketEncryption (DNS lookup timed out)', site: 'GetBucketEncryption', error: () => networkError('EAI_AGAIN', 'getaddrinfo EAI_AGAIN s3.us-east-1.amazonaws.com'), retried: REMEDIATED },
  { what: 'KMS ThrottlingException on DescribeKey', site: 'DescribeKey', error: () => awsError('ThrottlingException', 400), retried: REMEDIATED, kms: true },
  { what: 'KMS 500 KMSInternalException on DescribeKey', site: 'DescribeKey', error: () => awsError('KMSInternalException', 500), retried: REMEDIATED, kms: true },
  { what: 'KMS ThrottlingException on GetKeyRotationStatus', site: 'GetKeyRotationStatus', error: () => awsError('ThrottlingException', 400), retried: REMEDIATED, kms: true },
];

describe.each(TRANSIENT)('transient: $what', ({ site, error: makeError, retried, kms: needsKey }) => {
  const VICTIM = 'victim-bucket';
  const arrange = (): { guard: Guard; error: Error } => {
    unencrypted(VICTIM);
    const guard = needsKey ? kmsVictim(VICTIM) : testGuard(config());
    return { guard, error: fault(site, needsKey ? KEYS.listed : VICTIM, makeError()) };
  };

  it('enforceBucket throws the very error, for the caller\'s queue to retry', async () => {
    const { guard, error } = arrange();
    await expect(enforceBucket(request(VICTIM), guard)).rejects.toBe(error);
  });

  it('the handler reports only that record in batchItemFailures, leaves its message intact, logs no finding for it, and the redelivery succeeds', async () => {
    const { guard } = arrange();
    const { sink, findings, retrying, of, flushes } = recorder();
    const run = createBucketEventHandler(guard, sink);
    const event = batchOf('a-bucket', VICTIM, 'c-bucket');
    const sent = structuredClone(event);

    await expect(run(event, context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(event).toEqual(sent); // the body SQS redelivers (and finally moves to the DLQ) is the one it sent
    expect(of(VICTIM)).toEqual([]); // no finding for the failed attempt
    expect(findings.map((f) => `${f.bucket}:${f.verdict}/${f.action}`).sort()).toEqual(['a-bucket:COMPLIANT/NONE', 'c-bucket:COMPLIANT/NONE']);
    expect(retrying.map((r) => r.bucket)).toEqual([VICTIM]);
    expect(flushes()).toBe(1);

    // SQS delivers the message again (same body); the fault has passed.
    heal();
    const again = recorder();
    await expect(createBucketEventHandler(guard, again.sink)({ Records: [sent.Records[1]] }, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(again.of(VICTIM)).toEqual([expect.objectContaining(retried)]);
    expect(again.retrying).toEqual([]);
  });
});

describe('transient KMS failures are not remembered', () => {
  it('a throttled DescribeKey is asked again on the next delivery, not served from the key cache', async () => {
    const guard = kmsVictim('victim-bucket');
    unencrypted('victim-bucket');
    fault('DescribeKey', KEYS.listed, awsError('ThrottlingException', 400));
    const first = recorder();
    await expect(createBucketEventHandler(guard, first.sink)(batchOf('victim-bucket'), context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    heal();
    const second = recorder();
    await expect(createBucketEventHandler(guard, second.sink)(batchOf('victim-bucket'), context)).resolves.toEqual({ batchItemFailures: [] });
    expect(second.of('victim-bucket')).toEqual([expect.objectContaining({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', after: expect.objectContaining({ kmsKeyId: KEYS.listed }) })]);
    // The throttled answer, the next delivery's lookup (nothing cached), and the fresh check before writing.
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(3);
  });
});

interface PermanentCase {
  what: string;
  site: Site;
  error: () => Error;
  expected: Pick<Finding, 'verdict' | 'action'>;
  code: string;
  detail?: RegExp;
  /** Counted in RemediationsFailed (every ERROR verdict and FAILED action). */
  failed: boolean;
  kms?: boolean;
}

const PERMANENT: PermanentCase[] = [
  { what: 'AccessDenied (403) on GetBucketEncryption', site: 'GetBucketEncryption', error: () => awsError('AccessDenied', 403), expected: { verdict: 'ERROR', action: 'FAILED' }, code: 'ACCESS_DENIED', detail: /denied/, failed: true },
  { what: 'AccessDenied (403) on GetBucketTagging', site: 'GetBucketTagging', error: () => awsError('AccessDenied', 403), expected: { verdict: 'ERROR', action: 'FAILED' }, code: 'ACCESS_DENIED', detail: /denied/, failed: true },
  // ExpectedBucketOwner is the guard's account: S3 answers 403 for a bucket of another account.
  { what: 'a bucket of another account (ExpectedBucketOwner mismatch: 403)', site: 'GetBucketEncryption', error: () => awsError('AccessDenied', 403), expected: { verdict: 'ERROR', action: 'FAILED' }, code: 'ACCESS_DENIED', detail: /another account/, failed: true },
  { what: 'AccessDenied (403) on PutBucketEncryption', site: 'PutBucketEncryption', error: () => awsError('AccessDenied', 403), expected: { verdict: 'NONCOMPLIANT', action: 'FAILED' }, code: 'ACCESS_DENIED', detail: /PutBucketEncryption failed: AccessDenied/, failed: true },
  { what: 'a request S3 refuses (400 InvalidRequest) on PutBucketEncryption', site: 'PutBucketEncryption', error: () => awsError('InvalidRequest', 400), expected: { verdict: 'NONCOMPLIANT', action: 'FAILED' }, code: 'WRITE_FAILED', detail: /PutBucketEncryption failed: InvalidRequest/, failed: true },
  { what: 'KMS AccessDeniedException on DescribeKey of the configured key', site: 'DescribeKey', error: () => awsError('AccessDeniedException', 400), expected: { verdict: 'ERROR', action: 'SKIPPED' }, code: 'CONFIGURED_KEY_UNUSABLE', detail: /access denied/, failed: true, kms: true },
  { what: 'KMS NotFoundException on DescribeKey of the configured key', site: 'DescribeKey', error: () => awsError('NotFoundException', 400), expected: { verdict: 'ERROR', action: 'SKIPPED' }, code: 'CONFIGURED_KEY_UNUSABLE', detail: /does not exist/, failed: true, kms: true },
];

describe.each(PERMANENT)('permanent: $what', ({ site, error: makeError, expected, code, detail, failed, kms: needsKey }) => {
  const VICTIM = 'victim-bucket';
  const arrange = (): Guard => {
    unencrypted(VICTIM);
    const guard = needsKey ? kmsVictim(VICTIM) : testGuard(config());
    fault(site, needsKey ? KEYS.listed : VICTIM, makeError());
    return guard;
  };

  it(`enforceBucket returns one ${expected.verdict}/${expected.action} finding naming ${code}`, async () => {
    const finding = findingOf(await enforceBucket(request(VICTIM), arrange()));
    expect(finding).toMatchObject({ bucket: VICTIM, account: ACCOUNT, ...expected });
    expect(codes(finding)).toContain(code);
    if (detail) expect(finding.violations.find((v) => v.code === code)?.detail).toMatch(detail);
    expect(s3.commandCalls(PutBucketEncryptionCommand).filter((call) => call.args[0].input.Bucket === VICTIM).length).toBeLessThanOrEqual(1);
  });

  it(`the handler logs the finding and does not retry the record; metrics: ${failed ? 'RemediationsFailed' : 'BucketsExempt, not RemediationsFailed'}`, async () => {
    const guard = arrange();
    const { sink, of, retrying } = recorder();
    const event = batchOf('a-bucket', VICTIM, 'c-bucket');
    await expect(createBucketEventHandler(guard, sink)(event, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(of(VICTIM)).toEqual([expect.objectContaining(expected)]);
    expect(of('a-bucket')).toHaveLength(1);
    expect(of('c-bucket')).toHaveLength(1);
    expect(retrying).toEqual([]);
    const counted = metricsFor(of(VICTIM)[0]);
    expect(counted).toContain('BucketsEvaluated');
    if (failed) expect(counted).toContain('RemediationsFailed');
    else expect(counted).toEqual(expect.arrayContaining(['BucketsExempt']));
    if (!failed) expect(counted).not.toContain('RemediationsFailed');
  });
});

const GONE: { what: string; site: Site; detail: RegExp }[] = [
  { what: 'NoSuchBucket on GetBucketEncryption (deleted before the guard looked, or never created)', site: 'GetBucketEncryption', detail: /deleted or never created before/ },
  { what: 'NoSuchBucket on PutBucketEncryption (deleted between read and write)', site: 'PutBucketEncryption', detail: /deleted while/ },
  { what: 'NoSuchBucket on the read-back (deleted right after the write)', site: 'read-back', detail: /deleted while/ },
];

describe.each(GONE)('a bucket that does not exist: $what', ({ site, detail }) => {
  const VICTIM = 'victim-bucket';
  const arrange = (): Guard => {
    unencrypted(VICTIM);
    fault(site, VICTIM, awsError('NoSuchBucket', 404));
    return testGuard(config());
  };

  it('enforceBucket says it is gone: no finding, not EXEMPT', async () => {
    await expect(enforceBucket(request(VICTIM), arrange())).resolves.toEqual({ kind: 'gone', bucket: VICTIM, detail: expect.stringMatching(detail) });
  });

  it('the handler logs one "bucket not found" line, counts no metric, and does not retry the record', async () => {
    const guard = arrange();
    const { sink, of, retrying, notEvaluated } = recorder();
    await expect(createBucketEventHandler(guard, sink)(batchOf('a-bucket', VICTIM, 'c-bucket'), context)).resolves.toEqual({ batchItemFailures: [] });
    expect(of(VICTIM)).toEqual([]);
    expect(notEvaluated).toEqual([expect.objectContaining({ kind: 'gone', bucket: VICTIM, trigger: expect.objectContaining({ type: 'event' }) })]);
    expect(of('a-bucket')).toHaveLength(1);
    expect(retrying).toEqual([]);
  });
});

describe('the configured key disabled between one evaluation and the next', () => {
  it('a warm cache never decides a write: the key is described fresh before it is written, and refused at once once disabled', async () => {
    const TTL = 5 * 60_000;
    const clock = 0;
    const base = testGuard(configFor('SSE_KMS_CUSTOMER_MANAGED'));
    const guard: Guard = { ...base, describeKey: createKeyLookup(createClients({ AWS_MAX_ATTEMPTS: '1' }).kms, TTL, () => clock) };
    const { sink, of, retrying } = recorder();
    const run = createBucketEventHandler(guard, sink);

    // 1. The key checks out (cached for the evaluation, fresh right before the write); someone disables it
    //    during the write itself (S3 does not validate KMSMasterKeyID): the one round trip no check closes.
    world.onWrite = (bucket) => { if (bucket === 'bucket-1') world.keyState = 'Disabled'; };
    await expect(run(batchOf('bucket-1'), context)).resolves.toEqual({ batchItemFailures: [] });
    expect(of('bucket-1')).toEqual([expect.objectContaining({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', after: expect.objectContaining({ algorithm: 'aws:kms', kmsKeyId: KEYS.listed }) })]);
    expect(kms.commandCalls(DescribeKeyCommand)).toHaveLength(2); // the evaluation's, and the fresh one before writing

    // 2. Same warm container, well within the TTL: the next bucket is not pointed at the disabled key.
    const writesBefore = s3.commandCalls(PutBucketEncryptionCommand).length;
    await expect(run(batchOf('bucket-2'), context)).resolves.toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(writesBefore);
    const [refused] = of('bucket-2');
    expect(refused).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED' });
    expect(refused.violations).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'CONFIGURED_KEY_UNUSABLE', detail: expect.stringMatching(/Disabled/) })]));
    expect(metricsFor(refused)).toContain('RemediationsFailed');

    // 3. The fresh answer replaced the cached one: bucket-1, already on the key, is reported, never rewritten.
    await expect(run({ Records: [sqsRecord('m2', JSON.stringify(cloudTrailEvent('bucket-1', 'PutBucketTagging')))] }, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(writesBefore);
    const onDisabledKey = of('bucket-1')[1];
    expect(onDisabledKey).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED', before: expect.objectContaining({ kmsKeyId: KEYS.listed }) });
    expect(codes(onDisabledKey)).toContain('FOREIGN_OR_UNUSABLE_KEY');
    expect(metricsFor(onDisabledKey)).toEqual(expect.arrayContaining(['RemediationsFailed', 'ForeignOrUnusableKeyBuckets']));
    expect(retrying).toEqual([]);
  });
});

describe('batches', () => {
  it('a whole batch failing transiently reports every record in batchItemFailures: the function itself did not fail', async () => {
    for (const bucket of ['a-bucket', 'b-bucket', 'c-bucket']) fault('GetBucketEncryption', bucket, awsError('SlowDown', 503));
    const { sink, findings, retrying, flushes } = recorder();
    const event = batchOf('a-bucket', 'b-bucket', 'c-bucket');
    const sent = structuredClone(event);
    await expect(createBucketEventHandler(testGuard(config()), sink)(event, context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }, { itemIdentifier: 'm3' }] });
    expect(event).toEqual(sent);
    expect(findings).toEqual([]);
    expect(retrying.map((r) => r.bucket).sort()).toEqual(['a-bucket', 'b-bucket', 'c-bucket']);
    expect(flushes()).toBe(1); // metrics are still flushed on the way out
  });

  it('two messages about one failing bucket are both reported (one evaluation, both retried)', async () => {
    fault('GetBucketEncryption', 'victim-bucket', awsError('InternalError', 500));
    const { sink } = recorder();
    const event: SQSEvent = { Records: [
      sqsRecord('m1', JSON.stringify(cloudTrailEvent('victim-bucket'))),
      sqsRecord('m2', JSON.stringify(cloudTrailEvent('victim-bucket', 'PutBucketTagging'))),
      sqsRecord('m3', JSON.stringify(cloudTrailEvent('c-bucket'))),
    ] };
    const result = await createBucketEventHandler(testGuard(config()), sink)(event, context);
    expect(result).toEqual({ batchItemFailures: expect.arrayContaining([{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }]) });
    expect((result as { batchItemFailures: unknown[] }).batchItemFailures).toHaveLength(2);
    expect(s3.commandCalls(GetBucketEncryptionCommand).filter((call) => call.args[0].input.Bucket === 'victim-bucket')).toHaveLength(1);
  });

  it('a mixed batch: transient retried, permanent reported, malformed ignored, healthy evaluated', async () => {
    unencrypted('slow-bucket', 'denied-bucket', 'healthy-bucket');
    fault('GetBucketTagging', 'slow-bucket', awsError('SlowDown', 503));
    fault('PutBucketEncryption', 'denied-bucket', awsError('AccessDenied', 403));
    const { sink, of, ignored, retrying } = recorder();
    const event: SQSEvent = { Records: [
      sqsRecord('m1', JSON.stringify(cloudTrailEvent('slow-bucket'))),
      sqsRecord('m2', JSON.stringify(cloudTrailEvent('denied-bucket'))),
      sqsRecord('m3', '{"truncated'),
      sqsRecord('m4', JSON.stringify(cloudTrailEvent('healthy-bucket'))),
    ] };
    await expect(createBucketEventHandler(testGuard(config()), sink)(event, context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }] });
    expect(of('slow-bucket')).toEqual([]);
    expect(of('denied-bucket')).toEqual([expect.objectContaining({ verdict: 'NONCOMPLIANT', action: 'FAILED' })]);
    expect(of('healthy-bucket')).toEqual([expect.objectContaining({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' })]);
    expect(ignored).toEqual(['SQS message m3 is not a JSON event']);
    expect(retrying.map((r) => r.bucket)).toEqual(['slow-bucket']);
  });
});

describe('the real sink (Powertools Logger and Metrics)', () => {
  const spies = () => ({
    error: jest.spyOn(logger, 'error'),
    warn: jest.spyOn(logger, 'warn'),
    addMetric: jest.spyOn(metrics, 'addMetric'),
  });
  afterEach(() => jest.restoreAllMocks());

  it('logs a permanent failure as an error-level finding and counts it in RemediationsFailed', async () => {
    fault('GetBucketEncryption', 'victim-bucket', awsError('AccessDenied', 403));
    const { error, addMetric } = spies();
    await expect(createBucketEventHandler(testGuard(config()), createTelemetrySink())(batchOf('victim-bucket'), context)).resolves.toEqual({ batchItemFailures: [] });
    expect(error).toHaveBeenCalledWith('bucket evaluated', { finding: expect.objectContaining({ bucket: 'victim-bucket', verdict: 'ERROR', action: 'FAILED' }) });
    expect(addMetric.mock.calls.map(([name]) => name)).toEqual(expect.arrayContaining(['BucketsEvaluated', 'RemediationsFailed']));
  });

  it('logs a transient failure as "will be retried", with no finding and no metric for it', async () => {
    fault('GetBucketEncryption', 'victim-bucket', awsError('SlowDown', 503));
    const { error, warn, addMetric } = spies();
    await expect(createBucketEventHandler(testGuard(config()), createTelemetrySink())(batchOf('a-bucket', 'victim-bucket'), context)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(warn).toHaveBeenCalledWith('bucket evaluation failed, will be retried', expect.objectContaining({ bucket: 'victim-bucket' }));
    expect(error).not.toHaveBeenCalled();
    expect(addMetric.mock.calls.map(([name]) => name)).toEqual(['BucketsEvaluated']); // a-bucket only
  });
});

describe('the sweep', () => {
  it('goes on past failing buckets: transient ones are left for later, permanent ones reported, the next page still listed', async () => {
    s3.on(ListBucketsCommand).callsFake(async ({ ContinuationToken }: { ContinuationToken?: string }) => (ContinuationToken === 'page-2'
      ? { Buckets: [{ Name: 'gone-bucket', BucketRegion: REGION }, { Name: 'e-bucket', BucketRegion: REGION }] }
      : { Buckets: ['a-bucket', 'slow-bucket', 'denied-bucket', 'refused-bucket'].map((Name) => ({ Name, BucketRegion: REGION })), ContinuationToken: 'page-2' }));
    unencrypted('refused-bucket');
    fault('GetBucketEncryption', 'slow-bucket', awsError('SlowDown', 503));
    fault('GetBucketTagging', 'denied-bucket', awsError('AccessDenied', 403));
    fault('PutBucketEncryption', 'refused-bucket', awsError('AccessDenied', 403));
    fault('GetBucketEncryption', 'gone-bucket', awsError('NoSuchBucket', 404));
    fault('GetBucketTagging', 'gone-bucket', awsError('NoSuchBucket', 404));
    const { sink, findings, retrying } = recorder();
    const run = createSweepHandler(testGuard(config()), sink, { handOver: jest.fn(), log: jest.fn() });

    const outcome = await run({ source: 'aws.events', 'detail-type': 'Scheduled Event' }, { ...context, getRemainingTimeInMillis: () => 600_000 });
    expect(outcome).toMatchObject({
      status: 'completed',
      summary: {
        pages: 2, buckets: 6, retryLater: 1, notFound: 1,
        verdicts: { COMPLIANT: 2, ERROR: 1, NONCOMPLIANT: 1 },
        actions: { NONE: 2, FAILED: 2 },
      },
    });
    expect(retrying.map((r) => r.bucket)).toEqual(['slow-bucket']);
    expect(findings.map((f) => f.bucket).sort()).toEqual(['a-bucket', 'denied-bucket', 'e-bucket', 'refused-bucket']);
    for (const bucket of ['denied-bucket', 'refused-bucket']) expect(metricsFor(findings.find((f) => f.bucket === bucket)!)).toContain('RemediationsFailed');
  });
});
