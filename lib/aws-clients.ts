/**
 * One SDK client per service and region, created on first use and kept for the container's life
 * (connection reuse). Adaptive retries absorb throttling; `AWS_ENDPOINT_URL` points every client at an
 * emulator, where S3 needs path-style addressing. Every request is counted by operation, for the
 * sweep summary and the benchmark.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { LambdaClient } from '@aws-sdk/client-lambda';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3ControlClient } from '@aws-sdk/client-s3-control';
import type { OrganizationsClient } from '@aws-sdk/client-organizations';
import type { SQSClient } from '@aws-sdk/client-sqs';
import type { STSClient } from '@aws-sdk/client-sts';
import { isOperationAborted } from './aws-errors';
import { dynamoDbSdk, eventBridgeSdk, kmsSdk, lambdaSdk, organizationsSdk, s3ControlSdk, sqsSdk, stsSdk } from './sdk';
import type { AwsCredentialIdentityProvider, MetadataBearer, Pluggable } from '@smithy/types';

/** Attempts per request unless the SDK's standard AWS_MAX_ATTEMPTS says otherwise. */
const MAX_ATTEMPTS = 5;

/** Requests sent by operation (`S3.GetBucketEncryption`), retries excluded. */
export type CallCounts = Record<string, number>;

/** Middleware that counts each operation once, before retries. */
const callCounter = <Input extends object, Output extends MetadataBearer>(service: string, calls: CallCounts): Pluggable<Input, Output> => ({
  applyToStack: (stack) => stack.add((next, context) => (args) => {
    const operation = `${service}.${String(context.commandName).replace(/Command$/, '')}`;
    calls[operation] = (calls[operation] ?? 0) + 1;
    return next(args);
  }, { step: 'initialize', name: 'guardCallCounter' }),
});

/**
 * Writes that may replace someone else's choice: a 409 there means another writer is changing the bucket
 * right now, so sending the same write again would overwrite it unseen. apply-plans.ts re-reads first.
 */
const REREAD_BEFORE_RETRY = new Set(['PutBucketEncryptionCommand', 'PutBucketPolicyCommand', 'DeleteBucketPolicyCommand']);

/**
 * Marks S3's 409 OperationAborted as retryable, so the SDK's own retry strategy (adaptive, with backoff)
 * tries the request again: S3 says "Try again", and the SDK does not classify it as transient itself.
 * Added at the deserialize step, inside the retry middleware, where the error surfaces per attempt. Not
 * for the writes in REREAD_BEFORE_RETRY.
 */
export const retryOperationAborted: Pluggable<object, MetadataBearer> = {
  applyToStack: (stack) => stack.add((next, context) => async (args) => {
    try {
      return await next(args);
    } catch (error) {
      if (isOperationAborted(error) && !REREAD_BEFORE_RETRY.has(String(context.commandName)) && typeof error === 'object' && error !== null
        && !('$retryable' in error && error.$retryable)) {
        Object.assign(error, { $retryable: { throttling: false } });
      }
      throw error;
    }
  }, { step: 'deserialize', priority: 'high', name: 'guardRetryOperationAborted' }),
};

const counted = <C>(client: C, attach: (client: C) => void): C => {
  attach(client);
  return client;
};

const perRegion = <T>(create: (region: string) => T): ((region: string) => T) => {
  const clients = new Map<string, T>();
  return (region) => {
    let client = clients.get(region);
    if (!client) {
      client = create(region);
      clients.set(region, client);
    }
    return client;
  };
};

export interface AwsClients {
  s3: (region: string) => S3Client;
  kms: (region: string) => KMSClient;
  sts: (region: string) => STSClient;
  lambda: (region: string) => LambdaClient;
  /** Finding events go to the default bus of the function's own region. */
  events: (region: string) => EventBridgeClient;
  /** The flap ledger's table, in the function's own region. */
  dynamodb: (region: string) => DynamoDBClient;
  /** The re-keying queue (in the function's own region), and S3 Batch Operations jobs (in the bucket's). */
  sqs: (region: string) => SQSClient;
  s3control: (region: string) => S3ControlClient;
  /** The hub's account list; the SDK sends every region to the partition's one Organizations endpoint. */
  organizations: (region: string) => OrganizationsClient;
  calls: CallCounts;
}

export interface ClientOptions {
  /** Another identity than the function's own (the hub acting through a member role). */
  credentials?: AwsCredentialIdentityProvider;
  /** Counts shared with other clients (the hub's per-account clients add to the container's counts). */
  calls?: CallCounts;
}

export const createClients = (env: Readonly<Record<string, string | undefined>> = process.env, options: ClientOptions = {}): AwsClients => {
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  const forcePathStyle = Boolean(endpoint);
  const common = {
    retryMode: 'adaptive', maxAttempts: Number(env.AWS_MAX_ATTEMPTS) || MAX_ATTEMPTS,
    ...(endpoint ? { endpoint } : {}), ...(options.credentials ? { credentials: options.credentials } : {}),
  } as const;
  const calls: CallCounts = options.calls ?? {};
  return {
    // The guard finds the bucket's region itself (see bucket-state.ts), so redirects are not followed.
    s3: perRegion((region) => counted(new S3Client({ ...common, region, forcePathStyle, followRegionRedirects: false }), (client) => {
      client.middlewareStack.use(callCounter('S3', calls));
      client.middlewareStack.use(retryOperationAborted);
    })),
    kms: perRegion((region) => counted(new (kmsSdk().KMSClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('KMS', calls)))),
    sts: perRegion((region) => counted(new (stsSdk().STSClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('STS', calls)))),
    lambda: perRegion((region) => counted(new (lambdaSdk().LambdaClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('Lambda', calls)))),
    events: perRegion((region) => counted(new (eventBridgeSdk().EventBridgeClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('EventBridge', calls)))),
    dynamodb: perRegion((region) => counted(new (dynamoDbSdk().DynamoDBClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('DynamoDB', calls)))),
    sqs: perRegion((region) => counted(new (sqsSdk().SQSClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('SQS', calls)))),
    s3control: perRegion((region) => counted(new (s3ControlSdk().S3ControlClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('S3Control', calls)))),
    organizations: perRegion((region) => counted(new (organizationsSdk().OrganizationsClient)({ ...common, region }), (client) => client.middlewareStack.use(callCounter('Organizations', calls)))),
    calls,
  };
};

/** Calls made since `before` was copied from `calls`. */
export const callsSince = (calls: CallCounts, before: CallCounts): CallCounts =>
  Object.fromEntries(Object.entries(calls).map(([operation, n]) => [operation, n - (before[operation] ?? 0)] as const).filter(([, n]) => n > 0));
