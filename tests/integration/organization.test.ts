/**
 * The organisation hub against the emulator, with real SDK clients and moto's multi-account support: STS
 * AssumeRole into `arn:aws:iam::A:role/X` gives credentials that act as account A.
 *
 * Moto answers AssumeRole even for a role that does not exist, and does not separate calls on a named
 * bucket by account (DESIGN.md). So account isolation is proven on the wire: every request passes a proxy
 * (fault-proxy.ts) that (1) refuses AssumeRole with STS's AccessDenied when the role does not exist in that
 * account, exactly as AWS does, and (2) records which account's keys signed each S3 request, in which
 * region, and the `x-amz-expected-bucket-owner` it carried.
 *
 * The hub itself runs as a fresh account of its own (its credentials from AssumeRole too), so its sweep
 * lists only the buckets made here, never those of suites running beside this one.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateTableCommand } from '@aws-sdk/client-dynamodb';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, GetBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { Context, SQSEvent } from 'aws-lambda';
import { type BareEventResult, createBucketEventHandler } from '../../handlers/bucket-event';
import { createSweepHandler, type FannedOut } from '../../handlers/sweep';
import { createSweepWorker } from '../../handlers/sweep-worker';
import type { Finding } from '../../lib/finding';
import { createGuard, type Guard } from '../../lib/guard';
import type { Json } from '../../lib/json';
import { hubFactory } from '../../lib/organization/hub';
import { GUARD_ROLE_PATH, memberRoleArn } from '../../lib/organization/names';
import { createSweepProgress } from '../../lib/organization/sweep-progress';
import { sweepQueueSender } from '../../lib/organization/sweep-queue';
import type { FindingSink } from '../../lib/telemetry';
import { useEmulator } from '../emulator-env';
import { serialisedDynamoDb } from './aws';
import { type FaultProxy, startFaultProxy, type WireAnswer } from './fault-proxy';

const WEST = 'eu-west-1';
const EAST = 'us-east-1';
const ROLE = 's3-encryption-guard-member';
/** Account ids of this suite alone (moto keeps accounts apart for listings, IAM, SQS and DynamoDB). */
const run = Date.now().toString().slice(-6);
const HUB = `21${run}0000`;
const A = `21${run}0001`;
const B = `21${run}0002`;
/** Listed in memberAccounts, but the spoke was never deployed there: no member role. */
const NO_ROLE = `21${run}0003`;
/** Not listed: outside the hub's scope. */
const OUTSIDER = `21${run}0004`;

const endpoint = useEmulator();
const sts = new STSClient({ region: EAST, endpoint });

/** Credentials of `account` straight from the emulator (not through the proxy): how the test sets accounts up. */
const credentialsOf = async (account: string): Promise<AwsCredentialIdentity> => {
  const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/test-setup`, RoleSessionName: 'setup' }));
  return { accessKeyId: c!.AccessKeyId!, secretAccessKey: c!.SecretAccessKey!, sessionToken: c!.SessionToken! };
};

interface AccountSetup {
  credentials: AwsCredentialIdentity;
  s3: (region: string) => S3Client;
  iam: IAMClient;
}
const accounts = new Map<string, AccountSetup>();
const setupOf = async (account: string): Promise<AccountSetup> => {
  const known = accounts.get(account);
  if (known) return known;
  const credentials = await credentialsOf(account);
  const setup = {
    credentials,
    s3: (region: string) => new S3Client({ region, endpoint, forcePathStyle: true, credentials }),
    iam: new IAMClient({ region: EAST, endpoint, credentials }),
  };
  accounts.set(account, setup);
  return setup;
};

const bucketName = (label: string): string => `org-${label}-${run}-${randomUUID().slice(0, 6)}`;
/** Which account made each bucket: the owner every request about it must name. */
const ownerOf = new Map<string, string>();
const createBucket = async (account: string, label: string, region = EAST): Promise<string> => {
  const name = bucketName(label);
  await (await setupOf(account)).s3(region).send(new CreateBucketCommand({ Bucket: name, ...(region === EAST ? {} : { CreateBucketConfiguration: { LocationConstraint: WEST } }) }));
  ownerOf.set(name, account);
  return name;
};

const createMemberRole = async (account: string): Promise<void> => {
  await (await setupOf(account)).iam.send(new CreateRoleCommand({
    RoleName: ROLE, Path: GUARD_ROLE_PATH,
    AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${HUB}:root` }, Action: 'sts:AssumeRole' }] }),
  }));
};

/** One S3 request on the wire: who signed it (by account), in which region, and the owner it expected. */
interface SignedCall {
  bucket: string;
  signer?: string;
  region?: string;
  expectedOwner?: string;
}

const stsError = (code: string, message: string): WireAnswer => ({
  status: 403, headers: { 'content-type': 'text/xml' },
  body: `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>PROXY</RequestId></ErrorResponse>`,
});

let proxy: FaultProxy;
/** Access key id → the account it acts as. */
const keyOwner = new Map<string, string>();
const signed: SignedCall[] = [];
/** Role ARNs the hub asked STS for, refused or not. */
const assumed: string[] = [];

const startProxy = async (): Promise<FaultProxy> => startFaultProxy(endpoint, {
  async before(call) {
    const params = new URLSearchParams(call.body);
    if (params.get('Action') === 'AssumeRole') {
      const roleArn = params.get('RoleArn') ?? '';
      assumed.push(roleArn);
      const [, , , , account, resource] = roleArn.split(':');
      const roleName = resource?.split('/').pop() ?? '';
      // AWS refuses a role that does not exist (moto would answer): look it up as that account.
      const existing = await (await setupOf(account!)).iam.send(new GetRoleCommand({ RoleName: roleName })).then(({ Role }) => Role?.Arn, () => undefined);
      if (existing !== roleArn) return stsError('AccessDenied', `User: arn:aws:sts::${HUB}:assumed-role/hub/fn is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`);
      return undefined;
    }
    const credential = /Credential=([^/]+)\/\d{8}\/([^/]+)\/s3\//.exec(String(call.headers.authorization ?? ''));
    if (call.bucket && credential) {
      signed.push({ bucket: call.bucket, signer: keyOwner.get(credential[1]!), region: credential[2], expectedOwner: call.headers['x-amz-expected-bucket-owner'] as string | undefined });
    }
    return undefined;
  },
  after(_call, answer) {
    const keyId = /<AccessKeyId>([^<]+)<\/AccessKeyId>/.exec(answer.body)?.[1];
    const account = /<Arn>arn:aws:sts::(\d{12}):assumed-role\//.exec(answer.body)?.[1];
    if (keyId && account) keyOwner.set(keyId, account);
    return undefined;
  },
});

interface Captured {
  findings: Finding[];
  ignored: string[];
  logs: Array<{ message: string; details: Json }>;
}
const captured: Captured = { findings: [], ignored: [], logs: [] };
const sink: FindingSink = {
  finding: (finding) => { captured.findings.push(finding); },
  ignored: (reason) => { captured.ignored.push(reason); },
  notEvaluated: () => undefined,
  retrying: (bucket, error) => { throw new Error(`${bucket} unexpectedly retried: ${String(error)}`); },
  flush: async () => undefined,
};

const context: Partial<Context> = { invokedFunctionArn: `arn:aws:lambda:${EAST}:${HUB}:function:s3-encryption-guard-test-enforceBucket`, awsRequestId: 'test' };

const sample = JSON.parse(readFileSync(join(__dirname, '..', '..', 'events', 'create-bucket.json'), 'utf8')) as Json & { detail: Json };
/** The CloudTrail event of `account` creating `bucket` in `region`, as the spoke forwards it to the hub bus. */
const createBucketEvent = (account: string, bucket: string, region = EAST): Json => ({
  ...sample, id: randomUUID(), account, region,
  detail: {
    ...sample.detail, eventID: randomUUID(), eventTime: new Date().toISOString(), awsRegion: region, recipientAccountId: account,
    userIdentity: { type: 'AssumedRole', arn: `arn:aws:sts::${account}:assumed-role/app-deployer/session`, accountId: account },
    requestParameters: { bucketName: bucket, Host: `${bucket}.s3.amazonaws.com` },
  },
});
const sqsRecord = (body: string, messageId: string): SQSEvent['Records'][number] => ({
  messageId, receiptHandle: messageId, body, attributes: {} as SQSEvent['Records'][number]['attributes'],
  messageAttributes: {}, md5OfBody: '', eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${EAST}:${HUB}:queue`, awsRegion: EAST,
});
const sqsBatch = (events: Json[]): SQSEvent => ({ Records: events.map((event, i) => sqsRecord(JSON.stringify(event), `m${i}`)) });

const savedEnv = { ...process.env };
let guard: Guard;
let hubCredentials: AwsCredentialIdentity;

beforeAll(async () => {
  hubCredentials = await credentialsOf(HUB);
  // The hub's functions run as the hub account: its own requests are signed with its keys.
  keyOwner.set(hubCredentials.accessKeyId, HUB);
  Object.assign(process.env, { AWS_ACCESS_KEY_ID: hubCredentials.accessKeyId, AWS_SECRET_ACCESS_KEY: hubCredentials.secretAccessKey, AWS_SESSION_TOKEN: hubCredentials.sessionToken });
  await Promise.all([createMemberRole(A), createMemberRole(B)]);
  proxy = await startProxy();
});

afterAll(async () => {
  for (const name of ['AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'] as const) {
    if (savedEnv[name] === undefined) delete process.env[name];
    else process.env[name] = savedEnv[name];
  }
  await proxy.close();
});

/** A hub as the Lambda builds it: organization=hub, the listed members, every request through the proxy. */
const hubGuard = (settings: Record<string, string> = {}): Guard => createGuard({
  ...process.env, AWS_ENDPOINT_URL: proxy.endpoint, AWS_REGION: EAST, AWS_MAX_ATTEMPTS: '1',
  ORGANIZATION: 'hub', MEMBER_ACCOUNTS: [A, B, NO_ROLE].join(','), MEMBER_ROLE_NAME: ROLE, ...settings,
});

const encryptionAsOwner = async (bucket: string, region = EAST): Promise<string | undefined> => {
  const { ServerSideEncryptionConfiguration: rules } = await (await setupOf(ownerOf.get(bucket)!)).s3(region).send(new GetBucketEncryptionCommand({ Bucket: bucket }));
  return rules?.Rules?.[0]?.ApplyServerSideEncryptionByDefault?.SSEAlgorithm;
};

const callsOn = (bucket: string): SignedCall[] => signed.filter((call) => call.bucket === bucket);

describe('the hub guards member accounts through their member role', () => {
  beforeEach(() => {
    captured.findings.length = 0;
    captured.ignored.length = 0;
    assumed.length = 0;
    guard = hubGuard();
  });

  it('remediates buckets of two accounts in two regions, each with that account\'s credentials and as its expected owner', async () => {
    const buckets = { aEast: await createBucket(A, 'a-east'), aWest: await createBucket(A, 'a-west', WEST), bEast: await createBucket(B, 'b-east') };
    const handler = createBucketEventHandler(guard, sink, hubFactory(guard));

    const response = await handler(sqsBatch([createBucketEvent(A, buckets.aEast), createBucketEvent(A, buckets.aWest, WEST), createBucketEvent(B, buckets.bEast)]), context);

    expect(response).toEqual({ batchItemFailures: [] });
    expect(captured.findings.map((f) => [f.bucket, f.account, f.region, f.verdict, f.action]).sort()).toEqual([
      [buckets.aEast, A, EAST, 'NONCOMPLIANT', 'REMEDIATED'],
      [buckets.aWest, A, WEST, 'NONCOMPLIANT', 'REMEDIATED'],
      [buckets.bEast, B, EAST, 'NONCOMPLIANT', 'REMEDIATED'],
    ].sort());
    expect(await encryptionAsOwner(buckets.aEast)).toBe('AES256');
    expect(await encryptionAsOwner(buckets.aWest, WEST)).toBe('AES256');
    expect(await encryptionAsOwner(buckets.bEast)).toBe('AES256');
    for (const [bucket, region] of [[buckets.aEast, EAST], [buckets.aWest, WEST], [buckets.bEast, EAST]] as const) {
      const calls = callsOn(bucket);
      expect(calls.length).toBeGreaterThanOrEqual(3); // read, write, read back
      expect(calls).toEqual(calls.map(() => ({ bucket, signer: ownerOf.get(bucket), region, expectedOwner: ownerOf.get(bucket) })));
    }
    // One AssumeRole per account, however many of its buckets the batch names.
    expect(assumed.sort()).toEqual([memberRoleArn('aws', A, ROLE), memberRoleArn('aws', B, ROLE)].sort());
  });

  it('keeps an account\'s credentials for the next events (the container lives on)', async () => {
    const handler = createBucketEventHandler(guard, sink, hubFactory(guard));
    const first = await createBucket(A, 'a-first');
    const second = await createBucket(A, 'a-second');
    await handler(createBucketEvent(A, first), context);
    await handler(createBucketEvent(A, second), context);
    expect(captured.findings.map((f) => f.action)).toEqual(['REMEDIATED', 'REMEDIATED']);
    expect(assumed).toEqual([memberRoleArn('aws', A, ROLE)]);
  });

  it('ignores an event of an account outside its scope with the reason, and assumes nothing there', async () => {
    const bucket = await createBucket(OUTSIDER, 'outsider');
    const handler = createBucketEventHandler(guard, sink, hubFactory(guard));

    const result = await handler(createBucketEvent(OUTSIDER, bucket), context) as BareEventResult;

    expect(result.ignored).toMatch(new RegExp(`account ${OUTSIDER} is not in memberAccounts`));
    expect(captured.ignored).toEqual([result.ignored]);
    expect(captured.findings).toEqual([]);
    expect(assumed).toEqual([]);
    expect(callsOn(bucket)).toEqual([]);
  });

  it('reports a member account without the role as an ERROR finding, asks STS once, and touches none of its buckets', async () => {
    const buckets = [await createBucket(NO_ROLE, 'no-role-1'), await createBucket(NO_ROLE, 'no-role-2')];
    const handler = createBucketEventHandler(guard, sink, hubFactory(guard));

    await handler(createBucketEvent(NO_ROLE, buckets[0]!), context);
    await handler(createBucketEvent(NO_ROLE, buckets[1]!), context);

    expect(captured.findings).toHaveLength(2);
    for (const finding of captured.findings) {
      expect(finding).toMatchObject({ account: NO_ROLE, verdict: 'ERROR', action: 'SKIPPED', violations: [{ code: 'MEMBER_ROLE_UNAVAILABLE', severity: 'violation' }] });
      expect(finding.violations[0]!.detail).toContain(`cannot assume ${memberRoleArn('aws', NO_ROLE, ROLE)}: AccessDenied`);
    }
    // The refusal is remembered for a minute: a burst of events about the account costs one STS call.
    expect(assumed).toEqual([memberRoleArn('aws', NO_ROLE, ROLE)]);
    expect(buckets.flatMap(callsOn)).toEqual([]);
  });
});

describe('the hub\'s sweep fans out over every account', () => {
  it('covers every bucket of three accounts exactly once, reports the account without a role once, and its summary counts equal the findings', async () => {
    captured.findings.length = 0;
    captured.logs.length = 0;
    // Reads only: the sweep reports what it would change.
    guard = hubGuard({ DRY_RUN: 'true', SWEEP_PAGE_SIZE: '2' });
    const made = [
      await createBucket(HUB, 'hub-1'),
      ...await Promise.all([1, 2, 3].map((i) => createBucket(A, `a-sweep-${i}`))),
      await createBucket(A, 'a-sweep-west', WEST),
      ...await Promise.all([1, 2].map((i) => createBucket(B, `b-sweep-${i}`))),
    ];
    // Buckets of the earlier specifications exist too: the sweep must cover those of the hub, A and B.
    const expected = [...ownerOf].filter(([, owner]) => [HUB, A, B].includes(owner)).map(([bucket]) => bucket).sort();
    expect(expected).toEqual(expect.arrayContaining(made));

    const queueName = `org-sweep-${run}`;
    const table = `org-ledger-${run}`;
    // In the hub's account; its writes queued as DynamoDB serialises the updates of one item.
    const dynamodb = serialisedDynamoDb(hubCredentials);
    const sqs = new SQSClient({ region: EAST, endpoint, credentials: hubCredentials });
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: queueName }));
    await dynamodb.send(new CreateTableCommand({
      TableName: table, BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [{ AttributeName: 'bucket', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'bucket', KeyType: 'HASH' }],
    }));
    const org = { hubOf: hubFactory(guard)!, progress: createSweepProgress(() => dynamodb, table), send: sweepQueueSender(() => sqs, queueName) };
    const log = (message: string, details: Json): void => { captured.logs.push({ message, details }); };
    const coordinator = createSweepHandler(guard, sink, { handOver: () => Promise.reject(new Error('the hub never hands over')), log, org });
    const worker = createSweepWorker(guard, sink, { ...org, log });

    const started = await coordinator({}, { ...context, awsRequestId: randomUUID() }) as FannedOut;
    expect(started).toMatchObject({ status: 'fanned-out', accounts: 4 });

    // The queue drained as Lambda would, one message per invocation (batchSize 1).
    const redelivered: string[] = [];
    for (let empty = 0; empty < 2;) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      empty = Messages.length === 0 ? empty + 1 : 0;
      for (const message of Messages) {
        redelivered.push(message.Body!);
        const response = await worker({ Records: [sqsRecord(message.Body!, message.MessageId!)] }, context);
        expect(response).toEqual({ batchItemFailures: [] });
        await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: message.ReceiptHandle! }));
      }
    }

    const sweepFindings = captured.findings.filter((f) => f.trigger.type === 'sweep' && f.trigger.sweepId === started.sweepId);
    const perBucket = sweepFindings.filter((f) => f.bucket !== '*');
    expect(perBucket.map((f) => f.bucket).sort()).toEqual(expected);
    for (const finding of perBucket) expect(finding.account).toBe(ownerOf.get(finding.bucket));
    expect(sweepFindings.filter((f) => f.bucket === '*')).toEqual([
      expect.objectContaining({ account: NO_ROLE, verdict: 'ERROR', violations: [expect.objectContaining({ code: 'MEMBER_ROLE_UNAVAILABLE' })] }),
    ]);

    const completed = captured.logs.filter((entry) => entry.message === 'sweep completed');
    expect(completed).toHaveLength(1);
    const summary = completed[0]!.details.summary as Json;
    const verdicts = summary.verdicts as Record<string, number>;
    expect(Object.values(verdicts).reduce((sum, n) => sum + n, 0)).toBe(sweepFindings.length);
    expect(summary).toMatchObject({ sweepId: started.sweepId, accounts: 4, unreachableAccounts: 1, unlistedAccounts: 0, buckets: expected.length, retryLater: 0, notFound: 0 });
    // Page messages of at most SWEEP_PAGE_SIZE=2 buckets, cut per account.
    const perAccount = [HUB, A, B].map((account) => expected.filter((bucket) => ownerOf.get(bucket) === account).length);
    expect(summary.pages).toBe(perAccount.reduce((sum, n) => sum + Math.ceil(n / 2), 0));
    // SQS delivers at least once: an account message and a page message delivered again do nothing.
    const findingsBefore = captured.findings.length;
    const again = [JSON.stringify({ kind: 'account', sweepId: started.sweepId, account: A }), redelivered.find((body) => body.includes('"kind":"page"'))!];
    for (const [i, body] of again.entries()) {
      expect(await worker({ Records: [sqsRecord(body, `again-${i}`)] }, context)).toEqual({ batchItemFailures: [] });
    }
    expect(captured.findings).toHaveLength(findingsBefore);
    expect(captured.logs.filter((entry) => entry.message === 'sweep message skipped')).toHaveLength(2);
    expect(captured.logs.filter((entry) => entry.message === 'sweep completed')).toHaveLength(1);
    // No bucket of an account outside the sweep was read.
    expect(signed.filter((call) => call.signer && ![HUB, A, B].includes(call.signer))).toEqual([]);
  });
});
