'use strict';
/**
 * The organisation hub (param organization=hub; README "Organisation"): the central event bus the spokes
 * forward to, its policy, the rule that hands its events to the settle queue, the sweep's work queue and
 * the sweepWorker function that drains it, and the hub's right to assume the member role. With `off` every
 * hub export is empty: the single-account stack is deployed as before.
 *
 * Also the pieces serverless.yml shares with the spoke template (deploy/spoke.yml, scripts/build-spoke.ts):
 * the rule's event pattern, the bucket and key actions, the guard role path — from the TypeScript modules
 * the spoke is generated from, so the two cannot drift apart.
 */
const requireTs = require('../scripts/require-ts.cjs');
const lambdaRole = require('./lambda-role.cjs');

const SWEEP_WORKER = 'sweepWorker';
const SWEEP_WORKER_TIMEOUT = 900;

/** Each TypeScript module bundled once per packaging, however many variables read it. */
const modules = new Map();
const load = (path) => {
  if (!modules.has(path)) modules.set(path, requireTs(path));
  return modules.get(path);
};
const names = () => load('lib/organization/names.ts');

const sub = (text) => ({ 'Fn::Sub': text });
const getAtt = (id, attribute) => ({ 'Fn::GetAtt': [id, attribute] });
const list = (value) => String(value ?? '').split(',').map((item) => item.trim()).filter(Boolean);

/** The hub's settings; an invalid value is reported by the config check (scripts/validate-config-plugin.cjs). */
const settings = async (resolveVariable) => {
  const [mode, memberAccounts, organizationId, memberRoleName, service, stage] = await Promise.all([
    resolveVariable('param:organization'), resolveVariable('param:memberAccounts'), resolveVariable('param:organizationId'),
    resolveVariable('param:memberRoleName'), resolveVariable('self:service'), resolveVariable('sls:stage'),
  ]);
  return {
    hub: String(mode).trim() === 'hub',
    memberAccounts: list(memberAccounts),
    organizationId: String(organizationId ?? '').trim(),
    memberRoleName: String(memberRoleName).trim(),
    service: String(service),
    stage: String(stage),
  };
};

const sweepWorkQueueName = ({ service, stage }) => `${service}-${stage}-sweep-work`;

/**
 * Who may put events on the hub bus (the spokes' rules, through their roles): the organisation
 * (aws:PrincipalOrgID), the listed accounts, or — both given — the listed accounts of the organisation.
 * Custom PutEvents cannot claim an `aws.*` source, so only forwarded CloudTrail events match the hub rule.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-bus-perms.html
 */
const busPolicyStatement = ({ memberAccounts, organizationId }) => ({
  Effect: 'Allow',
  Principal: memberAccounts.length > 0 ? { AWS: memberAccounts.map((account) => sub(`arn:\${AWS::Partition}:iam::${account}:root`)) } : '*',
  Action: 'events:PutEvents',
  Resource: getAtt('HubEventBus', 'Arn'),
  ...(organizationId ? { Condition: { StringEquals: { 'aws:PrincipalOrgID': organizationId } } } : {}),
});

/** The member role of each account the hub may act in: the listed ones, or any account's (the organisation's, checked at run time). */
const memberRoleResources = ({ memberAccounts, memberRoleName }) =>
  (memberAccounts.length > 0 ? memberAccounts : ['*']).map((account) => sub(names().memberRoleArn('${AWS::Partition}', account, memberRoleName)));

const hubResources = async (resolveVariable, hub) => {
  const { hubBusName } = names();
  const { bucketEventPattern, STACK_GUARD_ROLE_PREFIX } = load('lib/organization/event-pattern.ts');
  // enforceBucket's statements (serverless.yml provider.iam.role.statements): the bucket configuration,
  // flap ledger, finding events, key checks and aliases — the sweep's evaluation needs the same.
  const guardStatements = await resolveVariable('self:provider.iam.role.statements');
  const workQueue = getAtt('SweepWorkQueue', 'Arn');
  return {
    Resources: {
      // Every spoke forwards its account's and region's bucket events here.
      HubEventBus: { Type: 'AWS::Events::EventBus', Properties: { Name: hubBusName(hub.service, hub.stage) } },
      HubEventBusPolicy: {
        Type: 'AWS::Events::EventBusPolicy',
        Properties: { EventBusName: { Ref: 'HubEventBus' }, StatementId: 'SpokesForwardBucketEvents', Statement: busPolicyStatement(hub) },
      },
      // The forwarded events, to the settle queue as the single-account rule sends this account's. The spokes
      // already left out their accounts' guard roles; this leaves out the hub account's.
      HubBucketEventsRule: {
        Type: 'AWS::Events::Rule',
        Properties: {
          Description: 'Bucket events forwarded by the spokes of every member account and region',
          EventBusName: { Ref: 'HubEventBus' },
          State: 'ENABLED',
          EventPattern: bucketEventPattern(STACK_GUARD_ROLE_PREFIX),
          Targets: [{
            Id: 'settle-queue',
            Arn: getAtt('SettleQueue', 'Arn'),
            DeadLetterConfig: { Arn: getAtt('DeliveryDeadLetterQueue', 'Arn') },
            RetryPolicy: { MaximumRetryAttempts: 185, MaximumEventAgeInSeconds: 86400 },
          }],
        },
      },
      // The sweep's fan-out: one message per account, then one per page of its buckets. SQS and Lambda's
      // concurrency carry it; no Lambda-to-Lambda chain (Lambda's recursive loop detection: the chain is
      // sweepBuckets → account message → page messages, two hops of sweepWorker, far below its limit).
      SweepWorkQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: sweepWorkQueueName(hub),
          VisibilityTimeout: 6 * SWEEP_WORKER_TIMEOUT, // six function timeouts, as AWS advises for SQS event sources
          SqsManagedSseEnabled: true,
          RedrivePolicy: { deadLetterTargetArn: getAtt('SweepWorkDeadLetterQueue', 'Arn'), maxReceiveCount: 5 },
        },
      },
      SweepWorkDeadLetterQueue: { Type: 'AWS::SQS::Queue', Properties: { MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true } },
      // Declared here, not as the function's `sqs` event: serverless would grant every queue's receive to enforceBucket's role too.
      SweepWorkerEventSourceMapping: {
        Type: 'AWS::Lambda::EventSourceMapping',
        DependsOn: ['SweepWorkerRole'],
        Properties: {
          EventSourceArn: workQueue,
          FunctionName: getAtt('SweepWorkerLambdaFunction', 'Arn'),
          BatchSize: 1,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          Enabled: true,
        },
      },
      SweepWorkerRole: lambdaRole({
        functionName: `${hub.service}-${hub.stage}-${SWEEP_WORKER}`,
        policyName: 'sweep-worker',
        statements: [
          ...guardStatements,
          { Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' }, // ListBuckets has no resource-level permissions
          // Its own queue: receive (the event source), and send the page messages of an account.
          { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: workQueue },
          // The warning memory (lib/warning-memory.ts), as the sweep keeps it; the sweep's progress markers,
          // written with the summary in one TransactWriteItems (which needs PutItem and UpdateItem).
          { Effect: 'Allow', Action: ['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem'], Resource: getAtt('FlapLedgerTable', 'Arn') },
        ],
      }),
      // The member role of every account in scope, for the three functions (the hub's own account: their own credentials).
      HubMemberAccessPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'hub-member-access',
          Roles: [{ Ref: 'IamRoleLambdaExecution' }, { Ref: 'SweepBucketsRole' }, { Ref: 'SweepWorkerRole' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 'sts:AssumeRole', Resource: memberRoleResources(hub) },
              // Without memberAccounts, each function checks an event's or a message's account against the
              // organisation's active accounts (lib/organization/scope.ts). No resource-level permissions.
              ...(hub.memberAccounts.length === 0 ? [{ Effect: 'Allow', Action: 'organizations:ListAccounts', Resource: '*' }] : []),
            ],
          },
        },
      },
      // sweepBuckets starts a sweep: the accounts of the organisation, one message each.
      HubSweepPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'hub-sweep',
          Roles: [{ Ref: 'SweepBucketsRole' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: ['sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: workQueue },
            ],
          },
        },
      },
    },
    Outputs: {
      HubEventBusArn: { Description: 'The spokes\' HubEventBusArn parameter', Value: getAtt('HubEventBus', 'Arn') },
      HubRoleArns: {
        Description: 'The spokes\' HubRoleArns parameter: the roles the member role trusts',
        Value: { 'Fn::Join': [',', [getAtt('IamRoleLambdaExecution', 'Arn'), getAtt('SweepBucketsRole', 'Arn'), getAtt('SweepWorkerRole', 'Arn')]] },
      },
      SweepWorkQueueUrl: { Value: { Ref: 'SweepWorkQueue' } },
      SweepWorkDeadLetterQueueUrl: { Value: { Ref: 'SweepWorkDeadLetterQueue' } },
    },
  };
};

/** The single-account sweep continues itself (handlers/sweep.ts) by invoking `invokedFunctionArn`: qualified when a version or alias runs. */
const sweepContinuation = ({ service, stage }) => ({
  Resources: {
    SweepContinuationPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'sweep-continuation',
        Roles: [{ Ref: 'SweepBucketsRole' }],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{
            Effect: 'Allow',
            Action: 'lambda:InvokeFunction',
            Resource: [`function:${service}-${stage}-sweepBuckets`, `function:${service}-${stage}-sweepBuckets:*`]
              .map((fn) => sub(`arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:${fn}`)),
          }],
        },
      },
    },
  },
});

module.exports = {
  /** The hub's resources (organization=hub), or the single-account sweep's continuation grant. */
  resources: async ({ resolveVariable }) => {
    const hub = await settings(resolveVariable);
    return hub.hub ? hubResources(resolveVariable, hub) : sweepContinuation(hub);
  },
  /** serverless.yml's sweepWorker function, or null: serverless then leaves it out. */
  function: async ({ resolveVariable }) => ((await settings(resolveVariable)).hub ? {
    handler: 'handlers/sweep-worker.handler',
    role: sub('${SweepWorkerRole.Arn}'),
    description: 'Sweeps the organisation: one member account, or one page of its buckets, per message',
    timeout: SWEEP_WORKER_TIMEOUT,
    memorySize: 512,
    // Lambda's default, stated: the worker's chain is two hops deep (account → pages); anything deeper is a fault to stop.
    recursiveLoop: 'Terminate',
  } : null),
  /** SWEEP_WORK_QUEUE_NAME of every function ('' when off). */
  sweepWorkQueueName: async ({ resolveVariable }) => {
    const hub = await settings(resolveVariable);
    return hub.hub ? sweepWorkQueueName(hub) : '';
  },
  /**
   * sweepBuckets' RecursiveLoop. Single account: Allow, deliberately — its self-invocation chain is bounded by
   * sweepMaxHops (default 50), above the ~16 invocations after which Lambda's recursive loop detection would
   * stop it (https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html). Hub: Terminate (the
   * default) — it only sends one SQS message per account, no chain.
   */
  sweepRecursiveLoop: async ({ resolveVariable }) => ((await settings(resolveVariable)).hub ? 'Terminate' : 'Allow'),
  /** Rules that may send to the settle queue: the single-account rule, and the hub's. */
  deliveryRuleArns: async ({ resolveVariable }) => ((await settings(resolveVariable)).hub
    ? [getAtt('BucketEventsRule', 'Arn'), getAtt('HubBucketEventsRule', 'Arn')]
    : getAtt('BucketEventsRule', 'Arn')),
  /** The single-account rule's pattern: this account's bucket events, without any guard role's. */
  bucketEventPattern: () => {
    const { bucketEventPattern, STACK_GUARD_ROLE_PREFIX } = load('lib/organization/event-pattern.ts');
    return bucketEventPattern(STACK_GUARD_ROLE_PREFIX);
  },
  bucketConfigurationActions: () => [...load('lib/organization/bucket-permissions.ts').BUCKET_CONFIGURATION_ACTIONS],
  keyCheckActions: () => [...load('lib/organization/bucket-permissions.ts').KEY_CHECK_ACTIONS],
  guardRolePath: () => names().GUARD_ROLE_PATH,
};
