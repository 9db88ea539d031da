/**
 * An organisation on the local emulator, for `npm run demo:org` and the organisation benchmark: member
 * accounts (moto acts as account A for credentials from STS AssumeRole into a role of A), their member
 * roles, the hub's ledger table and sweep work queue, and a stand-in for Lambda's SQS event source that
 * feeds the sweep work queue to sweepWorker containers.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { CreateRoleCommand, GetRoleCommand, IAMClient } from '@aws-sdk/client-iam';
import { S3Client } from '@aws-sdk/client-s3';
import {
  ChangeMessageVisibilityCommand, CreateQueueCommand, DeleteMessageCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient,
} from '@aws-sdk/client-sqs';
import { AssumeRoleCommand, type AssumeRoleCommandInput, STSClient, STSServiceException } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { GUARD_ROLE_PATH } from '../lib/organization/names';

/** The account moto answers as for its default credentials: the hub's. */
export const HUB_ACCOUNT = '123456789012';
export const HUB_REGION = 'us-east-1';
const ROOT = { accessKeyId: 'testing', secretAccessKey: 'testing' };

/** Credentials that act as `account` on the emulator (moto answers AssumeRole for any role name). */
export const accountCredentials = async (endpoint: string, account: string): Promise<AwsCredentialIdentity> => {
  const sts = new STSClient({ region: HUB_REGION, endpoint, credentials: ROOT });
  const { Credentials: c } = await sts.send(new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${account}:role/emulator-admin`, RoleSessionName: 'emulator-admin' }));
  if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error(`the emulator gave no credentials for ${account}`);
  return { accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, ...(c.SessionToken ? { sessionToken: c.SessionToken } : {}) };
};

/** An S3 client acting as the account (the hub's own account: the default credentials). */
export const accountS3 = (endpoint: string, credentials: AwsCredentialIdentity | undefined, region: string): S3Client =>
  new S3Client({ region, endpoint, forcePathStyle: true, credentials: credentials ?? ROOT });

/** The member role the spoke template creates, at the guard's role path (its policies do not matter to moto). */
export const createMemberRole = async (endpoint: string, credentials: AwsCredentialIdentity, roleName: string): Promise<void> => {
  const iam = new IAMClient({ region: HUB_REGION, endpoint, credentials });
  await iam.send(new CreateRoleCommand({
    RoleName: roleName, Path: GUARD_ROLE_PATH,
    AssumeRolePolicyDocument: JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${HUB_ACCOUNT}:root` }, Action: 'sts:AssumeRole' }] }),
  }));
};

const ROLE_ARN = /^arn:[\w-]+:iam::(\d{12}):role(\/(?:[\w+=,.@-]+\/)*)([\w+=,.@-]+)$/;

/**
 * STS refuses AssumeRole into a role that does not exist (AccessDenied); moto answers it for any role
 * (DESIGN.md, moto facts). This middleware on the hub's STS client refuses as AWS would: it asks IAM, as the
 * role's account, whether the role exists at that path, before the request goes out. Only for the emulator.
 */
export const refuseAbsentRoles = (sts: STSClient, endpoint: string): void => {
  const exists = new Map<string, Promise<boolean>>();
  const roleExists = (account: string, path: string, name: string): Promise<boolean> => {
    const key = `${account}${path}${name}`;
    let answer = exists.get(key);
    if (!answer) {
      answer = accountCredentials(endpoint, account)
        .then((credentials) => new IAMClient({ region: HUB_REGION, endpoint, credentials }).send(new GetRoleCommand({ RoleName: name })))
        .then(({ Role }) => Role?.Path === path, (error: unknown) => {
          if ((error as Error).name === 'NoSuchEntityException') return false;
          throw error;
        });
      exists.set(key, answer);
    }
    return answer;
  };
  sts.middlewareStack.add((next, context) => async (args) => {
    if (context.commandName === 'AssumeRoleCommand') {
      const roleArn = (args.input as AssumeRoleCommandInput).RoleArn ?? '';
      const [, account, path, name] = ROLE_ARN.exec(roleArn) ?? [];
      if (!account || !(await roleExists(account, path, name))) {
        throw new STSServiceException({
          name: 'AccessDenied', $fault: 'client', $metadata: { httpStatusCode: 403 },
          message: `User: arn:aws:sts::${HUB_ACCOUNT}:assumed-role/hub/s3-encryption-guard-hub is not authorized to perform: sts:AssumeRole on resource: ${roleArn}`,
        });
      }
    }
    return next(args);
  }, { step: 'initialize', priority: 'low', name: 'emulatorRefusesAbsentRoles' });
};

/** Writes that change one item's counters: DynamoDB applies them to that item one at a time. */
const ITEM_WRITES = new Set(['UpdateItemCommand', 'TransactWriteItemsCommand', 'PutItemCommand']);
/** Those writes of every client of this process, in the order they were sent. */
let writes: Promise<unknown> = Promise.resolve();

/**
 * DynamoDB applies the writes to one item one at a time, whoever sends them; the emulator applies each
 * without a lock, so concurrent ADDs to one item lose counts (DESIGN.md, moto facts). Every sweep message
 * ADDs its counts to the sweep's one summary item, from many containers at once: on the emulator the writes
 * of every client this is added to wait in one line, as DynamoDB would serialise them.
 */
export const serialiseItemWrites = (client: DynamoDBClient): void => {
  client.middlewareStack.add((next, context) => (args) => {
    if (!ITEM_WRITES.has(String(context.commandName))) return next(args);
    const turn = writes.then(() => next(args));
    writes = turn.catch(() => undefined);
    return turn;
  }, { step: 'initialize', name: 'serialiseItemWritesLikeDynamoDb' });
};

/** The hub's ledger table (the sweep's progress lives there) and its sweep work queue; returns the queue's URL. */
export const createHubStorage = async (endpoint: string, table: string, queue: string): Promise<string> => {
  await new DynamoDBClient({ region: HUB_REGION, endpoint, credentials: ROOT }).send(new CreateTableCommand({
    TableName: table, BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [{ AttributeName: 'bucket', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'bucket', KeyType: 'HASH' }],
  }));
  // The deployed queue's visibility timeout is six times the worker's timeout; here a message is never lost.
  const { QueueUrl } = await new SQSClient({ region: HUB_REGION, endpoint, credentials: ROOT }).send(new CreateQueueCommand({ QueueName: queue, Attributes: { VisibilityTimeout: '900' } }));
  if (!QueueUrl) throw new Error(`the emulator created no queue ${queue}`);
  return QueueUrl;
};

export type SweepWorkerInvoke = (event: SQSEvent) => Promise<SQSBatchResponse>;

export interface Invocation {
  slot: number;
  kind: string;
  ms: number;
  failed: boolean;
  /** Failed for the MAX_RECEIVES-th time: the deployed queue would move it to its dead-letter queue. */
  deadLettered: boolean;
}

/** Receives before a failing message goes to the dead-letter queue (the deployed redrive policy's count). */
export const MAX_RECEIVES = 5;

export interface DrainOptions {
  endpoint: string;
  queueUrl: string;
  /** One sweepWorker container per slot: Lambda's concurrency for the queue. */
  workers: readonly SweepWorkerInvoke[];
  /** True once a worker has logged `sweep completed`. */
  completed: () => boolean;
  /** Give up when no message arrives for this long and the sweep has not completed. */
  idleLimitMs?: number;
}

/**
 * What Lambda's SQS event source does with the sweep work queue (batch size 1, partial-batch responses):
 * each slot receives a message, invokes its container, deletes the message unless it was reported failed
 * (then it is visible again at once). Runs until the sweep has completed and the queue is empty.
 */
export const drainSweepQueue = async ({ endpoint, queueUrl, workers, completed, idleLimitMs = 30_000 }: DrainOptions): Promise<Invocation[]> => {
  const sqs = new SQSClient({ region: HUB_REGION, endpoint, credentials: ROOT });
  const queueArn = `arn:aws:sqs:${HUB_REGION}:${HUB_ACCOUNT}:${queueUrl.split('/').pop() ?? ''}`;
  const invocations: Invocation[] = [];
  let lastWork = Date.now();
  let busy = 0;
  const empty = async (): Promise<boolean> => {
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
    return Attributes?.ApproximateNumberOfMessages === '0' && Attributes.ApproximateNumberOfMessagesNotVisible === '0';
  };
  const slot = async (index: number): Promise<void> => {
    const invoke = workers[index];
    for (;;) {
      const { Messages } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 1, WaitTimeSeconds: 1, MessageSystemAttributeNames: ['All'] }));
      const message = Messages?.[0];
      if (!message?.Body || !message.ReceiptHandle || !message.MessageId) {
        if (busy === 0 && (completed() || Date.now() - lastWork > idleLimitMs) && await empty()) return;
        continue;
      }
      busy++;
      const started = Date.now();
      try {
        const response = await invoke({
          Records: [{
            messageId: message.MessageId, receiptHandle: message.ReceiptHandle, body: message.Body,
            attributes: message.Attributes as SQSEvent['Records'][number]['attributes'], messageAttributes: {}, md5OfBody: message.MD5OfBody ?? '',
            eventSource: 'aws:sqs', eventSourceARN: queueArn, awsRegion: HUB_REGION,
          }],
        });
        const failed = response.batchItemFailures.length > 0;
        const deadLettered = failed && Number(message.Attributes?.ApproximateReceiveCount ?? 1) >= MAX_RECEIVES;
        invocations.push({ slot: index, kind: (JSON.parse(message.Body) as { kind?: string }).kind ?? 'unknown', ms: Date.now() - started, failed, deadLettered });
        if (failed && !deadLettered) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle, VisibilityTimeout: 0 }));
        else await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message.ReceiptHandle }));
      } finally {
        busy--;
        lastWork = Date.now();
      }
    }
  };
  await Promise.all(workers.map((_, index) => slot(index)));
  if (!completed()) throw new Error(`the sweep did not complete: no message for ${idleLimitMs / 1000} s and the queue is empty`);
  return invocations;
};
