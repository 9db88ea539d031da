import { GetBucketEncryptionCommand, GetBucketTaggingCommand, PutBucketEncryptionCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { ListAccountsCommand, OrganizationsClient } from '@aws-sdk/client-organizations';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { createBucketEventHandler } from '../../handlers/bucket-event';
import type { Finding } from '../../lib/finding';
import type { FlapLedger } from '../../lib/flap-ledger';
import { createGuard, type Guard } from '../../lib/guard';
import { hubFactory } from '../../lib/organization/hub';
import type { FindingSink } from '../../lib/telemetry';
import { testGuard, s3Error } from './aws-mocks';
import { ACCOUNT, config, FOREIGN_ACCOUNT, REGION } from './fixtures';

const s3 = mockClient(S3Client);
const sts = mockClient(STSClient);
const context = { invokedFunctionArn: `arn:aws:lambda:${REGION}:${ACCOUNT}:function:s3-encryption-guard-dev-enforceBucket`, awsRequestId: 'r-1' };

const cloudTrailEvent = (bucket: string, overrides: Record<string, unknown> = {}) => ({
  version: '0', id: `id-${bucket}`, 'detail-type': 'AWS API Call via CloudTrail', source: 'aws.s3', account: ACCOUNT, region: REGION, time: '2026-11-27T10:00:00Z', resources: [],
  detail: {
    eventVersion: '1.09', eventSource: 's3.amazonaws.com', eventName: 'CreateBucket', awsRegion: REGION, eventID: `evt-${bucket}`, readOnly: false,
    userIdentity: { type: 'IAMUser', arn: `arn:aws:iam::${ACCOUNT}:user/alice` }, requestParameters: { bucketName: bucket }, recipientAccountId: ACCOUNT,
    ...overrides,
  },
});

const record = (messageId: string, body: string): SQSRecord => ({
  messageId, receiptHandle: `rh-${messageId}`, body, attributes: {} as SQSRecord['attributes'], messageAttributes: {}, md5OfBody: '',
  eventSource: 'aws:sqs', eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:settle`, awsRegion: REGION,
});

const recorder = () => {
  const findings: Finding[] = [];
  const ignored: string[] = [];
  const retrying: string[] = [];
  const sink: FindingSink = { finding: (f) => findings.push(f), ignored: (reason) => ignored.push(reason), notEvaluated: () => undefined, retrying: (bucket) => retrying.push(bucket), flush: async () => undefined };
  return { findings, ignored, retrying, sink };
};

const guard = (): Guard => testGuard(config());

beforeEach(() => {
  s3.reset();
  sts.reset();
  s3.on(GetBucketEncryptionCommand).resolves({ ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } });
  s3.on(GetBucketTaggingCommand).rejects(s3Error('NoSuchTagSet', 404));
});

describe('enforceBucket handler', () => {
  it('evaluates the bucket of a bare EventBridge event (invoke local) and returns the finding', async () => {
    const { sink, findings } = recorder();
    const result = await createBucketEventHandler(guard(), sink)(cloudTrailEvent('app-data'), context);
    expect(result).toEqual({ finding: expect.objectContaining({ bucket: 'app-data', verdict: 'COMPLIANT', trigger: { type: 'event', eventName: 'CreateBucket', eventId: 'evt-app-data', actor: `arn:aws:iam::${ACCOUNT}:user/alice` } }) });
    expect(findings).toHaveLength(1);
  });

  it('ignores an event of another account with a reason and no AWS call', async () => {
    const { sink, ignored } = recorder();
    const result = await createBucketEventHandler(guard(), sink)({ ...cloudTrailEvent('app-data', { recipientAccountId: FOREIGN_ACCOUNT }), account: FOREIGN_ACCOUNT }, context);
    expect(result).toEqual({ ignored: expect.stringMatching(/account 999988887777/) });
    expect(ignored).toHaveLength(1);
    expect(s3.calls()).toHaveLength(0);
  });

  it('processes an SQS batch: a non-JSON message is ignored, not retried', async () => {
    const { sink, findings, ignored } = recorder();
    const event: SQSEvent = { Records: [record('m1', JSON.stringify(cloudTrailEvent('a-bucket'))), record('m2', '{truncated'), record('m3', JSON.stringify(cloudTrailEvent('b-bucket')))] };
    const result = await createBucketEventHandler(guard(), sink)(event, context);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(findings.map((f) => f.bucket).sort()).toEqual(['a-bucket', 'b-bucket']);
    expect(ignored).toEqual(['SQS message m2 is not a JSON event']);
  });

  it('reports only the record that hit a transient failure, so the queue retries just that one', async () => {
    s3.on(GetBucketEncryptionCommand, { Bucket: 'b-bucket' }).rejects(s3Error('InternalError', 500));
    const { sink, findings, retrying } = recorder();
    const event: SQSEvent = { Records: [record('m1', JSON.stringify(cloudTrailEvent('a-bucket'))), record('m2', JSON.stringify(cloudTrailEvent('b-bucket')))] };
    const result = await createBucketEventHandler(guard(), sink)(event, context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: 'm2' }] });
    expect(findings.map((f) => f.bucket)).toEqual(['a-bucket']);
    expect(retrying).toEqual(['b-bucket']);
  });

  it('evaluates a bucket named by several events of one batch once', async () => {
    const { sink, findings } = recorder();
    const event: SQSEvent = {
      Records: [
        record('m1', JSON.stringify(cloudTrailEvent('app-data'))),
        record('m2', JSON.stringify(cloudTrailEvent('app-data', { eventName: 'PutBucketTagging', eventID: 'evt-2' }))),
      ],
    };
    await createBucketEventHandler(guard(), sink)(event, context);
    expect(findings).toHaveLength(1);
    expect(s3.commandCalls(GetBucketEncryptionCommand)).toHaveLength(1);
  });

  it('a record whose shared evaluation was another delivery\'s duplicate gets its own evaluation when its event differs', async () => {
    let written = false;
    s3.on(GetBucketEncryptionCommand).callsFake(async () => {
      if (!written) throw s3Error('ServerSideEncryptionConfigurationNotFoundError', 404);
      return { ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } };
    });
    s3.on(PutBucketEncryptionCommand).callsFake(async () => { written = true; return {}; });
    const claimed: string[] = [];
    const ledger: FlapLedger = {
      // evt-dup is being handled by another container; evt-later is this batch's own.
      claim: async (_bucket, eventId) => { claimed.push(eventId); return eventId === 'evt-dup' ? { status: 'duplicate' } : { status: 'claimed', entries: [] }; },
      recent: async () => ({ status: 'read', entries: [] }),
      recordWrite: async () => undefined,
    };
    const { sink, findings } = recorder();
    const event: SQSEvent = { Records: [
      record('m1', JSON.stringify(cloudTrailEvent('app-data', { eventID: 'evt-dup', eventName: 'PutBucketEncryption' }))),
      record('m2', JSON.stringify(cloudTrailEvent('app-data', { eventID: 'evt-later', eventName: 'DeleteBucketEncryption' }))),
    ] };
    await expect(createBucketEventHandler({ ...guard(), ledger }, sink)(event, context)).resolves.toEqual({ batchItemFailures: [] });
    expect(claimed).toEqual(['evt-dup', 'evt-later']);
    expect(findings).toEqual([expect.objectContaining({ action: 'REMEDIATED', trigger: expect.objectContaining({ eventId: 'evt-later' }) })]);
  });

  it('a fault of the guard itself (not AWS\'s) fails the invocation: the Errors alarm, not a quiet retry', async () => {
    const { sink } = recorder();
    const broken: FindingSink = { ...sink, finding: () => { throw new TypeError('a bug'); } };
    const event: SQSEvent = { Records: [record('m1', JSON.stringify(cloudTrailEvent('a-bucket')))] };
    await expect(createBucketEventHandler(guard(), broken)(event, context)).rejects.toThrow('a bug');
  });

  it('takes the account and partition from the Lambda context, and asks STS once only when there is none', async () => {
    sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT, Arn: `arn:aws-eusc:sts::${ACCOUNT}:assumed-role/dev/me` });
    const real = createGuard({ AWS_REGION: REGION });
    expect(await real.identityOf(context)).toEqual({ accountId: ACCOUNT, partition: 'aws' });
    expect(await real.identityOf({ invokedFunctionArn: `arn:aws-cn:lambda:cn-north-1:${ACCOUNT}:function:f` })).toEqual({ accountId: ACCOUNT, partition: 'aws-cn' });
    expect(sts.calls()).toHaveLength(0);
    expect(await real.identityOf({})).toEqual({ accountId: ACCOUNT, partition: 'aws-eusc' });
    await real.identityOf(undefined);
    expect(sts.calls()).toHaveLength(1);
  });

  it('writes nothing when the event is a failed call', async () => {
    const { sink, ignored } = recorder();
    await createBucketEventHandler(guard(), sink)(cloudTrailEvent('app-data', { errorCode: 'AccessDenied', errorMessage: 'Access Denied' }), context);
    expect(ignored[0]).toMatch(/failed \(AccessDenied\)/);
    expect(s3.commandCalls(PutBucketEncryptionCommand)).toHaveLength(0);
    expect(s3.calls()).toHaveLength(0);
  });
});

describe('enforceBucket handler as the organisation hub', () => {
  const A = '111111111111';
  const B = '222222222222';
  const organizations = mockClient(OrganizationsClient);
  const hubGuard = (): Guard => testGuard(config({ organization: { mode: 'hub', memberAccounts: [], organizationId: 'o-a1b2c3d4e5', memberRoleName: 's3-encryption-guard-member' } }));
  const memberEvent = () => {
    const event = cloudTrailEvent('member-data', { recipientAccountId: FOREIGN_ACCOUNT });
    return { ...event, account: FOREIGN_ACCOUNT };
  };
  beforeEach(() => organizations.reset());

  it('fails the invocation when the organisation\'s accounts cannot be listed: a broken set-up sounds the Errors alarm', async () => {
    organizations.on(ListAccountsCommand).rejects(s3Error('AccessDeniedException', 400));
    const guard = hubGuard();
    const { sink, findings } = recorder();
    const handler = createBucketEventHandler(guard, sink, hubFactory(guard));
    await expect(handler({ Records: [record('m1', JSON.stringify(memberEvent()))] } as SQSEvent, context)).rejects.toThrow('AccessDeniedException');
    expect(findings).toEqual([]);
    expect(s3.calls()).toHaveLength(0);
  });

  it('evaluates the events of two accounts naming one bucket name separately, each as its own account', async () => {
    sts.on(AssumeRoleCommand).callsFake(async ({ RoleArn }: { RoleArn: string }) => ({
      Credentials: { AccessKeyId: `AK${RoleArn.split(':')[4]}`, SecretAccessKey: 's', SessionToken: 't', Expiration: new Date(Date.now() + 3_600_000) },
    }));
    // The bucket is B's: S3 refuses a request that expects another owner.
    s3.on(GetBucketEncryptionCommand).callsFake(async ({ ExpectedBucketOwner }: { ExpectedBucketOwner?: string }) => {
      if (ExpectedBucketOwner !== B) throw s3Error('AccessDenied', 403);
      return { ServerSideEncryptionConfiguration: { Rules: [{ ApplyServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] } };
    });
    const guard = testGuard(config({ organization: { mode: 'hub', memberAccounts: [A, B], memberRoleName: 's3-encryption-guard-member' } }));
    const { sink, findings } = recorder();
    const named = (account: string) => ({ ...cloudTrailEvent('shared-name', { recipientAccountId: account, eventID: `evt-${account}` }), account });
    await createBucketEventHandler(guard, sink, hubFactory(guard))({ Records: [record('m1', JSON.stringify(named(A))), record('m2', JSON.stringify(named(B)))] } as SQSEvent, context);
    expect(findings.map((f) => [f.account, f.verdict]).sort()).toEqual([[A, 'ERROR'], [B, 'COMPLIANT']]);
    expect(s3.commandCalls(GetBucketEncryptionCommand).map((call) => call.args[0].input.ExpectedBucketOwner).sort()).toEqual([A, B]);
  });

  it('ignores an account the organisation does not list, and reads nothing', async () => {
    organizations.on(ListAccountsCommand).resolves({ Accounts: [{ Id: '111111111111', State: 'ACTIVE' }] });
    const guard = hubGuard();
    const { sink, ignored } = recorder();
    const result = await createBucketEventHandler(guard, sink, hubFactory(guard))(memberEvent(), context);
    expect(result).toEqual({ ignored: `account ${FOREIGN_ACCOUNT} is not an active account of organization o-a1b2c3d4e5` });
    expect(ignored).toEqual([`account ${FOREIGN_ACCOUNT} is not an active account of organization o-a1b2c3d4e5`]);
    expect(s3.calls()).toHaveLength(0);
  });
});
