/**
 * The guard's promises under races, stale caches, stale reads and redelivery, against the emulator with
 * the real SDK clients and the real handler. A proxy on the wire (fault-proxy.ts) puts the other writer
 * between the guard's read and its write, answers 409 OperationAborted, or serves a stale read. Each case
 * names the bucket's end state and the finding.
 *
 * What S3 says of itself: bucket configuration changes are eventually consistent ("updates to a bucket
 * configuration ... may take time to propagate", https://docs.aws.amazon.com/AmazonS3/latest/userguide/Welcome.html#ConsistencyModel);
 * concurrent configuration writes on one bucket may be answered 409 OperationAborted, "Try again"
 * (https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html#ErrorCodeList).
 */
import { CreateTableCommand, DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { DisableKeyCommand } from '@aws-sdk/client-kms';
import { DeleteBucketEncryptionCommand, GetBucketPolicyCommand, GetPublicAccessBlockCommand, PutBucketEncryptionCommand, PutBucketPolicyCommand } from '@aws-sdk/client-s3';
import type { SQSBatchResponse } from 'aws-lambda';
import { createBucketEventHandler } from '../../handlers/bucket-event';
import { enforceBucket, findingOf } from '../../lib/enforce';
import type { Finding } from '../../lib/finding';
import { createFlapLedger, fightsIn, type LedgerEntry } from '../../lib/flap-ledger';
import { createGuard, type Guard } from '../../lib/guard';
import type { FindingSink, NotEvaluated } from '../../lib/telemetry';
import { useEmulator } from '../emulator-env';
import { admin, REGION, serialisedDynamoDb, uniqueBucket } from './aws';
import { type FaultProxy, s3ErrorAnswer, startFaultProxy, type WireAnswer } from './fault-proxy';

const ACCOUNT = '123456789012';
const DEPLOYER = `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deployer/terraform-apply`;
const ROGUE = `arn:aws:sts::${ACCOUNT}:assumed-role/legacy-deployer/nightly`;
const OFF = { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'off', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'off' };
const aws = admin();
let proxy: FaultProxy;

beforeAll(async () => {
  proxy = await startFaultProxy(useEmulator());
});
afterAll(() => proxy.close());
beforeEach(() => {
  proxy.hooks = {};
  proxy.log.length = 0;
  proxy.maxConcurrentWrites = 0;
});

/** A guard wired as the Lambda wires it, whose every request goes through the proxy. */
const guardThroughProxy = (settings: Record<string, string> = {}): Guard =>
  createGuard({ ...process.env, AWS_ENDPOINT_URL: proxy.endpoint, AWS_REGION: REGION, ...OFF, ...settings });

const sweepRequest = (bucket: string) => ({ bucket, region: REGION, accountId: ACCOUNT, trigger: { type: 'sweep' as const, sweepId: 'races' } });

let eventCounter = 0;
const cloudTrail = (bucket: string, eventName: string, actor: string, eventTime: Date) => ({
  version: '0', id: `id-${eventCounter}`, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: ACCOUNT, region: REGION,
  time: eventTime.toISOString(), resources: [],
  detail: {
    eventVersion: '1.09', eventSource: 's3.amazonaws.com', eventName, awsRegion: REGION, eventID: `race-${process.pid}-${eventCounter++}`, readOnly: false,
    eventTime: eventTime.toISOString().replace(/\.\d+Z$/, 'Z'), userIdentity: { type: 'AssumedRole', arn: actor }, requestParameters: { bucketName: bucket }, recipientAccountId: ACCOUNT,
  },
});
const sqsBatch = (...bodies: object[]) => ({
  Records: bodies.map((body, i) => ({
    messageId: `m-${i}`, receiptHandle: 'r', body: JSON.stringify(body), attributes: {}, messageAttributes: {}, md5OfBody: '',
    eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:settle`, awsRegion: REGION,
  })),
});
const recorder = () => {
  const findings: Finding[] = [];
  const notEvaluated: NotEvaluated[] = [];
  const sink: FindingSink = { finding: (f) => findings.push(f), ignored: () => undefined, notEvaluated: (what) => notEvaluated.push(what), retrying: () => undefined, flush: async () => undefined };
  return { findings, notEvaluated, sink };
};
const CONTEXT = { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3-encryption-guard-test-enforceBucket` };

describe('another writer between the guard\'s read and its write', () => {
  it('the owner\'s stronger customer managed key, put in place after the guard read the bucket, is kept: no downgrade, a COMPLIANT finding', async () => {
    const bucket = uniqueBucket('race-stronger');
    await aws.createBucket(bucket, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    const ownersKey = await aws.createKey();
    const owners = { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' as const, KMSMasterKeyID: ownersKey }, BucketKeyEnabled: true }] };
    // The owner writes right after the guard's first read has been answered (before the guard can write).
    proxy.hooks.after = async (call) => {
      if (call.bucket === bucket && call.method === 'GET' && call.subresource === 'encryption' && call.n === 1) {
        await aws.s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: owners }));
      }
      return undefined;
    };
    const finding = findingOf(await enforceBucket(sweepRequest(bucket), guardThroughProxy({ ENCRYPTION_MODE: 'SSE_KMS_AWS_MANAGED' })));

    // Read (AES256: too weak), re-read just before writing: the owner's rule; judged again, nothing written.
    expect(proxy.log.filter((line) => line === `GET encryption ${bucket}`)).toHaveLength(2);
    expect(proxy.log).not.toContain(`PUT encryption ${bucket}`);
    expect(finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE', before: { algorithm: 'aws:kms', kmsKeyId: ownersKey } });
    expect(await aws.encryptionOf(bucket)).toEqual({ algorithm: 'aws:kms', kmsKeyId: ownersKey, bucketKeyEnabled: true });
  });

  it('a policy rewritten by the owner during the evaluation is merged into, not overwritten with the stale plan', async () => {
    const bucket = uniqueBucket('race-policy');
    await aws.createBucket(bucket, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    const ownersStatement = { Sid: 'OwnerReadOnly', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:role/reader` }, Action: 's3:GetObject', Resource: `arn:aws:s3:::${bucket}/*` };
    proxy.hooks.after = async (call) => {
      if (call.bucket === bucket && call.method === 'GET' && call.subresource === 'policy' && call.n === 1) {
        await aws.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify({ Version: '2012-10-17', Statement: [ownersStatement] }) }));
      }
      return undefined;
    };
    const finding = findingOf(await enforceBucket(sweepRequest(bucket), guardThroughProxy({ REQUIRE_TLS: 'enforce' })));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED' });
    const policy = JSON.parse((await aws.s3.send(new GetBucketPolicyCommand({ Bucket: bucket }))).Policy!) as { Statement: { Sid: string }[] };
    expect(policy.Statement.map((s) => s.Sid)).toEqual(['OwnerReadOnly', 'EncryptionGuardRequireTls']);
    expect(finding.policyBefore).toMatchObject({ Statement: [ownersStatement] }); // the plan was made from the owner's policy
  });
});

describe('a stale key cache never decides a write', () => {
  it('a listed key disabled while the container is warm is refused for the next bucket at once, with no write', async () => {
    const key = await aws.createKey();
    const guard = guardThroughProxy({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key });
    const first = uniqueBucket('race-key-1');
    const second = uniqueBucket('race-key-2');
    await aws.createBucket(first);
    await aws.createBucket(second);
    expect(findingOf(await enforceBucket(sweepRequest(first), guard))).toMatchObject({ action: 'REMEDIATED', after: { kmsKeyId: key } });

    await aws.kms.send(new DisableKeyCommand({ KeyId: key.split('/')[1] })); // an incident: the key is disabled
    const refused = findingOf(await enforceBucket(sweepRequest(second), guard));
    expect(refused).toMatchObject({ verdict: 'ERROR', action: 'SKIPPED' });
    expect(refused.violations).toEqual(expect.arrayContaining([expect.objectContaining({ code: 'CONFIGURED_KEY_UNUSABLE', detail: expect.stringMatching(/Disabled/) })]));
    expect(proxy.log).not.toContain(`PUT encryption ${second}`);
    expect(await aws.encryptionOf(second)).toBeUndefined();
  });
});

/** The proxy answers the bucket's `GetBucketEncryption` number n (1-based) with the first read's answer when `stale(n)`. */
const staleRuleReads = (bucket: string, stale: (n: number) => boolean): void => {
  let first: WireAnswer | undefined;
  proxy.hooks.after = (call, answer) => {
    if (call.bucket !== bucket || call.subresource !== 'encryption' || call.method !== 'GET') return undefined;
    if (call.n === 1) first = answer;
    return stale(call.n) ? first : undefined;
  };
};

describe('S3\'s own answers', () => {
  const ABORTED = s3ErrorAnswer(409, 'OperationAborted', 'A conflicting conditional operation is currently in progress against this resource. Please try again.');

  it('409 OperationAborted on a rule write is tried again after a re-read: the bucket is fixed, no FAILED finding', async () => {
    const bucket = uniqueBucket('race-409');
    await aws.createBucket(bucket);
    proxy.hooks.before = (call) => (call.bucket === bucket && call.method === 'PUT' && call.subresource === 'encryption' && call.n === 1 ? ABORTED : undefined);
    const finding = findingOf(await enforceBucket(sweepRequest(bucket), { ...guardThroughProxy(), sleep: async () => undefined }));
    expect(finding).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', after: { algorithm: 'AES256' } });
    expect(proxy.log.filter((line) => line.endsWith(bucket) && line.includes('encryption'))).toEqual([
      `GET encryption ${bucket}`, `GET encryption ${bucket}`, `PUT encryption ${bucket}`, // read, re-read, write: 409
      `GET encryption ${bucket}`, `PUT encryption ${bucket}`, `GET encryption ${bucket}`, // re-read, write, read back
    ]);
  });

  it('a 409 because the owner is writing a stronger rule right then: the guard re-reads, keeps the owner\'s rule, writes nothing', async () => {
    const bucket = uniqueBucket('race-409-owner');
    await aws.createBucket(bucket, { encryption: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
    const ownersKey = await aws.createKey();
    proxy.hooks.before = async (call) => {
      if (call.bucket !== bucket || call.method !== 'PUT' || call.subresource !== 'encryption' || call.n !== 1) return undefined;
      await aws.s3.send(new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms', KMSMasterKeyID: ownersKey }, BucketKeyEnabled: true }] } }));
      return ABORTED;
    };
    const finding = findingOf(await enforceBucket(sweepRequest(bucket), { ...guardThroughProxy({ ENCRYPTION_MODE: 'SSE_KMS_AWS_MANAGED' }), sleep: async () => undefined }));
    expect(finding).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
    expect(proxy.log.filter((line) => line === `PUT encryption ${bucket}`)).toHaveLength(1); // only the one S3 refused
    expect(await aws.encryptionOf(bucket)).toEqual({ algorithm: 'aws:kms', kmsKeyId: ownersKey, bucketKeyEnabled: true });
  });

  it('encryption, policy and Block Public Access are written one after another, never together', async () => {
    const bucket = uniqueBucket('race-sequenced');
    await aws.createBucket(bucket);
    const finding = findingOf(await enforceBucket(sweepRequest(bucket), guardThroughProxy({ PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'enforce' })));
    expect(finding).toMatchObject({ action: 'REMEDIATED' });
    expect(proxy.log.filter((line) => line.startsWith('PUT'))).toEqual([`PUT encryption ${bucket}`, `PUT policy ${bucket}`, `PUT publicAccessBlock ${bucket}`]);
    expect(proxy.maxConcurrentWrites).toBe(1);
    expect((await aws.s3.send(new GetPublicAccessBlockCommand({ Bucket: bucket }))).PublicAccessBlockConfiguration).toMatchObject({ BlockPublicPolicy: true });
  });

  it('a read-back that still shows the old rule is read again after a pause: REMEDIATED, no mismatch', async () => {
    const bucket = uniqueBucket('race-stale-once');
    await aws.createBucket(bucket);
    staleRuleReads(bucket, (n) => n === 3); // the first read-back after the write is stale
    const finding = findingOf(await enforceBucket(sweepRequest(bucket), guardThroughProxy()));
    expect(finding).toMatchObject({ action: 'REMEDIATED', after: { algorithm: 'AES256' } });
    expect(finding.violations.map((v) => v.code)).toEqual(['NO_DEFAULT_ENCRYPTION']);
    expect(proxy.log.filter((line) => line === `GET encryption ${bucket}`)).toHaveLength(4);
  });

  it('a write that stays invisible is VERIFY_PENDING (a warning), and the event is handed back to the queue for a later look', async () => {
    const bucket = uniqueBucket('race-stale-long');
    await aws.createBucket(bucket);
    staleRuleReads(bucket, (n) => n >= 3); // every read-back after the write is stale
    const guard = { ...guardThroughProxy(), sleep: async () => undefined }; // the backoff's waits, without waiting
    const { findings, sink } = recorder();
    const handle = createBucketEventHandler(guard, sink);
    const event = cloudTrail(bucket, 'CreateBucket', DEPLOYER, new Date());
    const result = await handle(sqsBatch(event), CONTEXT) as SQSBatchResponse;
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: 'm-0' }]); // a batch of one: reported, not thrown
    expect(findings).toEqual([expect.objectContaining({ action: 'REMEDIATED', violations: expect.arrayContaining([expect.objectContaining({ code: 'VERIFY_PENDING', severity: 'warning' })]) })]);
    expect(findings[0].verdict).not.toBe('ERROR');

    proxy.hooks = {}; // S3 has caught up; the queue delivers the event again
    await expect(handle(sqsBatch(event), CONTEXT)).resolves.toEqual({ batchItemFailures: [] });
    expect(findings[1]).toMatchObject({ verdict: 'COMPLIANT', action: 'NONE' });
  });

  it('a single-record batch whose bucket S3 keeps throttling answers with batchItemFailures, not a function error', async () => {
    const bucket = uniqueBucket('race-throttled');
    await aws.createBucket(bucket);
    proxy.hooks.before = (call) => (call.bucket === bucket ? s3ErrorAnswer(503, 'SlowDown', 'Please reduce your request rate.') : undefined);
    const { findings, sink } = recorder();
    const handle = createBucketEventHandler(guardThroughProxy({ AWS_MAX_ATTEMPTS: '1' }), sink);
    await expect(handle(sqsBatch(cloudTrail(bucket, 'CreateBucket', DEPLOYER, new Date())), CONTEXT)).resolves.toEqual({ batchItemFailures: [{ itemIdentifier: 'm-0' }] });
    expect(findings).toEqual([]);
  });
});

describe('one deploy\'s burst, then a real downgrade', () => {
  let table: string;
  beforeAll(async () => {
    table = uniqueBucket('race-ledger');
    await new DynamoDBClient({ region: REGION, endpoint: useEmulator() }).send(new CreateTableCommand({
      TableName: table, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'bucket', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'bucket', KeyType: 'HASH' }],
    }));
  });

  it('five different events of one terraform apply, delivered at once to five containers, are one change: no FLAPPING; the other actor\'s downgrade right after is fixed', async () => {
    const bucket = uniqueBucket('race-burst');
    await aws.createBucket(bucket); // no rule, no policy, no Block Public Access: what the deployer's calls left
    // Threshold 1: one round per actor. Counted per bucket, as before, the deployer's burst would leave the
    // other actor's downgrade unfixed.
    const settings = { ENCRYPTION_MODE: 'SSE_KMS_AWS_MANAGED', PUBLIC_ACCESS_BLOCK: 'enforce', REQUIRE_TLS: 'enforce', FLAP_TABLE: table, FLAP_THRESHOLD: '1', FLAP_WINDOW_MINUTES: '60' };
    const ledgerClient = serialisedDynamoDb(); // DynamoDB serialises conditional writes on one item; the emulator does not
    const container = () => ({ ...guardThroughProxy(settings), ledger: createFlapLedger(() => ledgerClient, table, 60 * 60_000) });
    const { findings, notEvaluated, sink } = recorder();
    const applyAt = Date.now() - 3 * 60_000;
    const burst = ['CreateBucket', 'PutBucketTagging', 'PutBucketPolicy', 'PutBucketPublicAccessBlock', 'PutBucketEncryption']
      .map((eventName, i) => cloudTrail(bucket, eventName, DEPLOYER, new Date(applyAt + i * 4000)));

    // Each container gets one event; a record handed back (a bucket that kept changing) is delivered again.
    const deliver = async (event: object): Promise<void> => {
      const handle = createBucketEventHandler(container(), sink);
      for (let attempt = 0; attempt < 3; attempt++) {
        const { batchItemFailures } = await handle(sqsBatch(event), CONTEXT) as SQSBatchResponse;
        if (batchItemFailures.length === 0) return;
      }
      throw new Error('an event of the burst was never handled');
    };
    await Promise.all(burst.map(deliver));

    expect(findings.some((f) => f.violations.some((v) => v.code === 'FLAPPING'))).toBe(false);
    expect(notEvaluated).toEqual([]);
    expect(await aws.encryptionOf(bucket)).toMatchObject({ algorithm: 'aws:kms' });
    const writes = findings.filter((f) => f.action === 'REMEDIATED').length;
    expect(writes).toBeGreaterThanOrEqual(1);
    const { Item } = await new DynamoDBClient({ region: REGION, endpoint: useEmulator() }).send(new GetItemCommand({ TableName: table, Key: { bucket: { S: bucket } }, ConsistentRead: true }));
    const recorded: LedgerEntry[] = (Item?.entries?.L ?? []).map((entry) => ({
      at: Number(entry.M!.at.N), eventId: entry.M!.eventId.S!, actor: entry.M!.actor.S!, changedAt: Number(entry.M!.changedAt.N), setting: entry.M!.setting.S!,
    }));
    expect(recorded.every((entry) => entry.actor === DEPLOYER)).toBe(true);
    expect(fightsIn(recorded).length).toBeLessThanOrEqual(1); // however many writes, one round

    // Two minutes later another actor removes the rule: its first round, fixed.
    await aws.s3.send(new DeleteBucketEncryptionCommand({ Bucket: bucket }));
    await deliver(cloudTrail(bucket, 'DeleteBucketEncryption', ROGUE, new Date(applyAt + 2 * 60_000)));
    expect(findings.at(-1)).toMatchObject({ verdict: 'NONCOMPLIANT', action: 'REMEDIATED', trigger: expect.objectContaining({ actor: ROGUE }) });
    expect(await aws.encryptionOf(bucket)).toMatchObject({ algorithm: 'aws:kms' });
  });
});
