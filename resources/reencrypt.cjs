'use strict';
/**
 * Re-keying existing objects (lib/reencrypt/), deployed only when the reencryptObjects param is not `off`:
 * the reencryptObjects function and its FIFO queue, the S3 Batch Operations role, the completion-report
 * bucket, and the permissions that re-keying needs — which only the function and the Batch Operations role
 * get (s3:UpdateObjectEncryption, s3:GetObject, the listed keys' kms:Encrypt, kms:Decrypt, kms:ReEncrypt*,
 * kms:GenerateDataKey). enforceBucket and sweepBuckets get only sqs:SendMessage on the queue (the hand-over),
 * and the sweep the job-tracking calls. With `off` every export is empty: nothing is deployed.
 *
 * Permissions: https://docs.aws.amazon.com/AmazonS3/latest/API/API_UpdateObjectEncryption.html,
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-iam-role-policies.html
 */
const requireTs = require('../scripts/require-ts.cjs');
const lambdaRole = require('./lambda-role.cjs');

const VALUES = ['off', 'report', 'enforce'];
const FUNCTION_TIMEOUT = 300;

const enabled = async (resolveVariable) => {
  const value = String(await resolveVariable('param:reencryptObjects')).trim();
  // An invalid value is reported by the config check (scripts/validate-config-plugin.cjs) with its message.
  return VALUES.includes(value) && value !== 'off';
};

const listedKeys = async (resolveVariable) =>
  String(await resolveVariable('param:kmsKeyArn')).split(',').map((arn) => arn.trim()).filter(Boolean);

/**
 * Names, not Refs, reach the functions (`serverless invoke local` cannot resolve a Ref): the queue, the
 * Batch Operations role (IAM is global: the region is in its name) and the report bucket's prefix
 * (bucket names are global: `<prefix>-<account>-<region>`).
 */
const names = async (resolveVariable) => {
  const [service, stage, region] = await Promise.all([resolveVariable('self:service'), resolveVariable('sls:stage'), resolveVariable('aws:region')]);
  const prefix = `${service}-${stage}-rekey`;
  if (prefix.length + 1 + 12 + 1 + String(region).length > 63) {
    const error = new Error(`the report bucket name ${prefix}-<account>-${region} would be longer than 63 characters: use a shorter stage name`);
    error.stack = error.message;
    throw error;
  }
  return { queue: `${service}-${stage}-reencrypt.fifo`, batchRole: `${service}-${stage}-${region}-rekey-batch`, reportBucketPrefix: prefix, fn: `${service}-${stage}-reencryptObjects` };
};

const sub = (text) => ({ 'Fn::Sub': text });
const getAtt = (id, attribute) => ({ 'Fn::GetAtt': [id, attribute] });
/** Object and bucket ARNs of this account only: s3:ResourceAccount. */
const inThisAccount = { StringEquals: { 's3:ResourceAccount': sub('${AWS::AccountId}') } };
const JOB_ARN = sub('arn:${AWS::Partition}:s3:${AWS::Region}:${AWS::AccountId}:job/*');

/** What re-keying needs of the keys: the listed keys as target, this account's other keys as source — only through S3. */
const keyStatements = (keys) => [
  ...(keys.length > 0 ? [{
    Effect: 'Allow',
    Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey'],
    Resource: keys,
    Condition: { StringLike: { 'kms:ViaService': 's3.*.amazonaws.com' } },
  }] : []),
  {
    Effect: 'Allow',
    Action: ['kms:Decrypt', 'kms:ReEncryptFrom'],
    Resource: sub('arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*'),
    Condition: { StringLike: { 'kms:ViaService': 's3.*.amazonaws.com' } },
  },
];

const objectStatements = [
  // GetObjectRetention and GetObjectLegalHold make HeadObject show an object's Object Lock, which S3 refuses to re-key.
  { Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion', 's3:GetObjectRetention', 's3:GetObjectLegalHold', 's3:UpdateObjectEncryption'], Resource: sub('arn:${AWS::Partition}:s3:::*/*'), Condition: inThisAccount },
  { Effect: 'Allow', Action: ['s3:ListBucket', 's3:ListBucketVersions'], Resource: sub('arn:${AWS::Partition}:s3:::*'), Condition: inThisAccount },
];

const resources = async (resolveVariable) => {
  const [{ queue, batchRole, reportBucketPrefix, fn }, keys] = await Promise.all([names(resolveVariable), listedKeys(resolveVariable)]);
  // Every guard role at the guard's path (lib/organization/names.ts): lib/reencrypt/batch-plan.ts builds the ARN with it.
  const { GUARD_ROLE_PATH } = requireTs('lib/organization/names.ts');
  return {
    Resources: {
      // One message per bucket and listing page; one message group per bucket (its pages run in order, one at a time).
      ReencryptQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: {
          QueueName: queue,
          FifoQueue: true,
          VisibilityTimeout: 6 * FUNCTION_TIMEOUT,
          SqsManagedSseEnabled: true,
          RedrivePolicy: { deadLetterTargetArn: getAtt('ReencryptDeadLetterQueue', 'Arn'), maxReceiveCount: 5 },
        },
      },
      ReencryptDeadLetterQueue: {
        Type: 'AWS::SQS::Queue',
        Properties: { FifoQueue: true, MessageRetentionPeriod: 1209600, SqsManagedSseEnabled: true },
      },
      // Batch Operations completion reports (failed objects and why). CloudFormation tags it with the stack name: the guard exempts it.
      ReencryptReportBucket: {
        Type: 'AWS::S3::Bucket',
        DeletionPolicy: 'Retain',
        UpdateReplacePolicy: 'Retain',
        Properties: {
          BucketName: sub(`${reportBucketPrefix}-\${AWS::AccountId}-\${AWS::Region}`),
          BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
          PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
          OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
          LifecycleConfiguration: { Rules: [{ Id: 'expire-reports', Status: 'Enabled', ExpirationInDays: 90 }] },
        },
      },
      ReencryptReportBucketPolicy: {
        Type: 'AWS::S3::BucketPolicy',
        Properties: {
          Bucket: { Ref: 'ReencryptReportBucket' },
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [{
              Sid: 'DenyInsecureTransport', Effect: 'Deny', Principal: '*', Action: 's3:*',
              Resource: [getAtt('ReencryptReportBucket', 'Arn'), sub('${ReencryptReportBucket.Arn}/*')],
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            }],
          },
        },
      },
      // The role S3 Batch Operations assumes for the guard's jobs, for this account's jobs only.
      BatchOperationsRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          RoleName: batchRole,
          Path: GUARD_ROLE_PATH,
          AssumeRolePolicyDocument: {
            Version: '2012-10-17',
            Statement: [{
              Effect: 'Allow', Principal: { Service: 'batchoperations.s3.amazonaws.com' }, Action: 'sts:AssumeRole',
              Condition: { StringEquals: { 'aws:SourceAccount': sub('${AWS::AccountId}') } },
            }],
          },
          Policies: [{
            PolicyName: 'reencrypt-objects',
            PolicyDocument: {
              Version: '2012-10-17',
              Statement: [
                ...objectStatements,
                ...keyStatements(keys),
                { Effect: 'Allow', Action: ['s3:PutObject'], Resource: sub('${ReencryptReportBucket.Arn}/*') },
                { Effect: 'Allow', Action: ['s3:GetBucketLocation'], Resource: getAtt('ReencryptReportBucket', 'Arn') },
              ],
            },
          }],
        },
      },
      // reencryptObjects' role: the objects, the keys, its queue, and starting (and finding) the guard's jobs.
      ReencryptObjectsRole: lambdaRole({
        functionName: fn,
        policyName: 'reencrypt-objects',
        statements: [
          { Effect: 'Allow', Action: ['s3:GetBucketTagging'], Resource: sub('arn:${AWS::Partition}:s3:::*') },
          ...objectStatements,
          ...keyStatements(keys),
          ...(keys.length > 0 ? [{ Effect: 'Allow', Action: ['kms:DescribeKey', 'kms:GetKeyRotationStatus'], Resource: keys }] : []),
          { Effect: 'Allow', Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: getAtt('ReencryptQueue', 'Arn') },
          // CreateJob and ListJobs have no resource-level permissions.
          { Effect: 'Allow', Action: ['s3:CreateJob', 's3:ListJobs'], Resource: '*' },
          { Effect: 'Allow', Action: ['s3:DescribeJob'], Resource: JOB_ARN },
          {
            Effect: 'Allow', Action: ['iam:PassRole'], Resource: getAtt('BatchOperationsRole', 'Arn'),
            Condition: { StringEquals: { 'iam:PassedToService': 'batchoperations.s3.amazonaws.com' } },
          },
          { Effect: 'Allow', Action: ['events:PutEvents'], Resource: sub('arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default') },
        ],
      }),
      // The hand-over (enforceBucket, sweepBuckets) and the sweep's job tracking.
      ReencryptHandOffPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'reencrypt-hand-over',
          Roles: [{ Ref: 'IamRoleLambdaExecution' }, { Ref: 'SweepBucketsRole' }],
          PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['sqs:GetQueueUrl', 'sqs:SendMessage'], Resource: getAtt('ReencryptQueue', 'Arn') }] },
        },
      },
      ReencryptJobTrackingPolicy: {
        Type: 'AWS::IAM::Policy',
        Properties: {
          PolicyName: 'reencrypt-job-tracking',
          Roles: [{ Ref: 'SweepBucketsRole' }],
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Action: 's3:ListJobs', Resource: '*' }, // no resource-level permissions
              { Effect: 'Allow', Action: ['s3:DescribeJob', 's3:GetJobTagging', 's3:PutJobTagging'], Resource: JOB_ARN },
              // The failed objects' reasons, from the completion reports in the stack's own report bucket.
              { Effect: 'Allow', Action: 's3:GetObject', Resource: sub('${ReencryptReportBucket.Arn}/*') },
            ],
          },
        },
      },
    },
    Outputs: {
      ReencryptQueueUrl: { Value: { Ref: 'ReencryptQueue' } },
      ReencryptDeadLetterQueueUrl: { Value: { Ref: 'ReencryptDeadLetterQueue' } },
      ReencryptReportBucketName: { Value: { Ref: 'ReencryptReportBucket' } },
    },
  };
};

module.exports = {
  resources: async ({ resolveVariable }) => ((await enabled(resolveVariable)) ? resources(resolveVariable) : {}),
  /** serverless.yml's reencryptObjects function, or null: serverless then leaves it out. */
  function: async ({ resolveVariable }) => ((await enabled(resolveVariable)) ? {
      handler: 'handlers/reencrypt.handler',
      role: sub('${ReencryptObjectsRole.Arn}'),
      description: 'Re-keys existing objects in place (UpdateObjectEncryption) or estimates it, one bucket listing page per message',
      timeout: FUNCTION_TIMEOUT,
      memorySize: 512,
      environment: {
        REENCRYPT_BATCH_ROLE_NAME: (await names(resolveVariable)).batchRole,
        REENCRYPT_REPORT_BUCKET_PREFIX: (await names(resolveVariable)).reportBucketPrefix,
      },
      events: [{ sqs: { arn: getAtt('ReencryptQueue', 'Arn'), batchSize: 1, functionResponseType: 'ReportBatchItemFailures' } }],
  } : null),
  /** REENCRYPT_QUEUE_NAME of every function: where the hand-over and the continuation go ('' when off). */
  queueName: async ({ resolveVariable }) => ((await enabled(resolveVariable)) ? (await names(resolveVariable)).queue : ''),
};
