/**
 * The deployable, as CloudFormation will see it: `serverless package` (offline, no credentials) and
 * checks of the packaged template — cfn-lint, the delivery path (rule → settle queue → function, with
 * dead-letter queues), the runtime, and a least-privilege role. Also: an invalid param fails packaging
 * with a message naming the variable, and the optional trail packages and lints.
 */
import { TRIGGER_EVENT_NAMES } from '../../lib/cloudtrail-event';
import { DEAD_LETTER_QUEUES, ENFORCE_FUNCTION_ID, RULE_ID, SETTLE_QUEUE_ID, SETTLE_QUEUE_MAPPING_ID } from '../../lib/doctor/stack';
import { GUARD_ROLE_PATH } from '../../lib/organization/names';
import { actionsOf, asArray, packageService, roleStatements, type StagedService, stageService, targetOf, type Template, expectLintClean, expectPackaged, resourcesOfType, single } from './serverless-cli';

const CLI_TIMEOUT = 180_000;
const GUARD_ROLE = 'IamRoleLambdaExecution';
/** enforceBucket runs as serverless's role, sweepBuckets as its own: the rule must leave out both. */
const SWEEP_ROLE = 'SweepBucketsRole';
const GUARD_ROLES = [GUARD_ROLE, SWEEP_ROLE];
const ENFORCE_HANDLER = 'handlers/bucket-event.handler';


/** The rule on CloudTrail S3 calls (the stack has other rules: the sweep's schedule, ...). */
const bucketEventsRule = (template: Template): [string, any] =>
  single(resourcesOfType(template, 'AWS::Events::Rule').filter(([, rule]) => asArray(rule.Properties?.EventPattern?.source).includes('aws.s3')), 'rule on aws.s3 events');

/** enforceBucket, found by its handler. */
const enforceFunction = (template: Template): [string, any] =>
  single(resourcesOfType(template, 'AWS::Lambda::Function').filter(([, fn]) => fn.Properties?.Handler === ENFORCE_HANDLER), `function with handler ${ENFORCE_HANDLER}`);

const OBJECT_LEVEL_ACTIONS = [
  's3:GetObject', 's3:GetObjectVersion', 's3:GetObjectAcl', 's3:GetObjectAttributes', 's3:GetObjectTagging',
  's3:PutObject', 's3:PutObjectAcl', 's3:PutObjectTagging', 's3:PutObjectRetention', 's3:PutObjectLegalHold',
  's3:DeleteObject', 's3:DeleteObjectVersion', 's3:DeleteObjectTagging', 's3:RestoreObject', 's3:ReplicateObject',
  's3:AbortMultipartUpload', 's3:ListMultipartUploadParts', 's3:ListBucket', 's3:ListBucketVersions', 's3:BypassGovernanceRetention',
];
/** The guard reads key metadata; it never uses, grants or administers a key. */
const FORBIDDEN_KMS_ACTIONS = [
  'kms:Encrypt', 'kms:Decrypt', 'kms:ReEncryptFrom', 'kms:ReEncryptTo', 'kms:GenerateDataKey', 'kms:GenerateDataKeyWithoutPlaintext',
  'kms:CreateGrant', 'kms:RetireGrant', 'kms:RevokeGrant', 'kms:PutKeyPolicy', 'kms:ScheduleKeyDeletion', 'kms:DisableKey',
  'kms:EnableKey', 'kms:CreateKey', 'kms:UpdateAlias', 'kms:CreateAlias',
];
 /** Actions without resource-level permissions: IAM accepts only "*" as their resource. */
const NO_RESOURCE_LEVEL_ACTIONS = ['s3:ListAllMyBuckets', 'kms:ListAliases'];
/** KMS statements that name keys (ListAliases names none: it lists the account's aliases, read-only). */
const keyScoped = (statement: { Action?: string | string[] }): boolean =>
  asArray<string>(statement.Action).some((action) => action.startsWith('kms:') && !NO_RESOURCE_LEVEL_ACTIONS.includes(action));
const KEY_ARN = /^arn:(aws[a-z-]*|\$\{AWS::Partition\}):kms:([a-z0-9-]+|\*):(\d{12}|\$\{AWS::AccountId\}):key\/[A-Za-z0-9*-]+$/;

/** A resource entry as text: a literal ARN or the body of a `Fn::Sub`; anything else is shown as JSON. */
const resourceText = (resource: unknown): string =>
  typeof resource === 'string' ? resource
    : typeof resource === 'object' && resource !== null && typeof (resource as any)['Fn::Sub'] === 'string' ? (resource as any)['Fn::Sub']
      : JSON.stringify(resource);

describe('packaged template (serverless package, default params)', () => {
  let service: StagedService;
  let template: Template;
  let templatePath: string;

  beforeAll(async () => {
    service = stageService();
    ({ template, templatePath } = expectPackaged(await packageService(service)));
  }, CLI_TIMEOUT);

  afterAll(() => service?.remove());

  const rule = () => bucketEventsRule(template)[1];
  const ruleTarget = () => single(asArray(rule().Properties.Targets), 'rule target') as any;
  const settleQueueId = () => targetOf(ruleTarget().Arn) as string;
  const fn = () => enforceFunction(template)[1];
  const statements = () => GUARD_ROLES.flatMap((role) => roleStatements(template, role));

  it('passes cfn-lint', () => {
    expectLintClean(templatePath);
  }, 120_000);

  describe('the EventBridge rule', () => {
    it('matches successful CloudTrail S3 calls by name — exactly the calls the parser acts on', () => {
      const pattern = rule().Properties.EventPattern;
      expect(pattern.source).toEqual(['aws.s3']);
      expect(pattern['detail-type']).toEqual(['AWS API Call via CloudTrail']);
      expect(pattern.detail.eventSource).toEqual(['s3.amazonaws.com']);
      expect([...pattern.detail.eventName].sort()).toEqual([...TRIGGER_EVENT_NAMES].sort());
      expect(pattern.detail.errorCode).toEqual([{ exists: false }]);
      expect(rule().Properties.State).toBe('ENABLED');
    });

    it('leaves out the calls of every guard role of the account (one IAM path, any region), keeping callers without a session issuer (IAM users, root)', () => {
      expect(rule().Properties.EventPattern.detail.$or).toEqual([
        { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ exists: false }] } } } },
        { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': { prefix: { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role${GUARD_ROLE_PATH}` } } }] } } } },
      ]);
    });

    it('leaves out the calls of every function of the stack: each runs as one of those roles, and every role of the stack is at the guard\'s path', () => {
      const functions = resourcesOfType(template, 'AWS::Lambda::Function');
      expect(functions.length).toBeGreaterThan(0);
      for (const [, fn] of functions) expect(GUARD_ROLES).toContain(targetOf(fn.Properties.Role));
      expect(targetOf(fn().Properties.Role)).toBe(GUARD_ROLE);
      const roles = resourcesOfType(template, 'AWS::IAM::Role');
      expect(roles.map(([id]) => id).sort()).toEqual([...GUARD_ROLES].sort());
      for (const [, role] of roles) expect(role.Properties.Path).toBe(GUARD_ROLE_PATH);
    });

    it('has one target, the settle queue, with a dead-letter queue for failed deliveries', () => {
      const target = ruleTarget();
      expect(template.Resources[settleQueueId()].Type).toBe('AWS::SQS::Queue');
      const dlq = targetOf(target.DeadLetterConfig?.Arn);
      expect(dlq).toBeDefined();
      expect(template.Resources[dlq as string].Type).toBe('AWS::SQS::Queue');
      expect(dlq).not.toBe(settleQueueId());
    });

    it('may send to the settle queue and the delivery dead-letter queue — and only this rule may', () => {
      const dlq = targetOf(ruleTarget().DeadLetterConfig.Arn) as string;
      const policies = resourcesOfType(template, 'AWS::SQS::QueuePolicy').map(([, policy]) => policy.Properties);
      for (const queue of [settleQueueId(), dlq]) {
        const grants = policies
          .filter((policy) => asArray(policy.Queues).some((ref) => targetOf(ref) === queue))
          .flatMap((policy) => asArray(policy.PolicyDocument.Statement))
          .filter((statement: any) => statement.Effect === 'Allow' && statement.Principal?.Service === 'events.amazonaws.com'
            && asArray(statement.Action).includes('sqs:SendMessage')
            && asArray(statement.Resource).some((resource) => targetOf(resource) === queue));
        expect(grants).not.toHaveLength(0);
        for (const grant of grants) expect(targetOf(grant.Condition?.ArnEquals?.['aws:SourceArn'])).toBe(bucketEventsRule(template)[0]);
      }
    });
  });

  describe('the settle queue', () => {
    it('delays every event settleSeconds (default 60) and is encrypted with SSE-SQS', () => {
      const queue = template.Resources[settleQueueId()].Properties;
      expect(queue.DelaySeconds).toBe(60);
      expect(queue.SqsManagedSseEnabled).toBe(true);
    });

    it('redrives to an encrypted dead-letter queue after repeated failures', () => {
      const { RedrivePolicy } = template.Resources[settleQueueId()].Properties;
      const dlq = targetOf(RedrivePolicy?.deadLetterTargetArn) as string;
      expect(template.Resources[dlq]).toMatchObject({ Type: 'AWS::SQS::Queue', Properties: { SqsManagedSseEnabled: true } });
      expect(dlq).not.toBe(settleQueueId());
      expect(RedrivePolicy.maxReceiveCount).toBeGreaterThanOrEqual(1);
    });

    it('hides a message for at least six function timeouts, as AWS advises for SQS event sources', () => {
      expect(template.Resources[settleQueueId()].Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * fn().Properties.Timeout);
    });

    it('feeds enforceBucket in batches with partial-batch failure reporting', () => {
      const [, mapping] = single(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping')
        .filter(([, candidate]) => targetOf(candidate.Properties.EventSourceArn) === settleQueueId()), 'event source mapping of the settle queue');
      expect(targetOf(mapping.Properties.FunctionName)).toBe(enforceFunction(template)[0]);
      expect(mapping.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    });
  });

  describe('the function', () => {
    it('runs on nodejs22.x, arm64 (as every function of the stack)', () => {
      for (const [, each] of resourcesOfType(template, 'AWS::Lambda::Function')) {
        expect(each.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
      }
      expect(fn().Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'] });
    });

    it('is the only consumer of the settle queue', () => {
      const consumers = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(([, mapping]) => targetOf(mapping.Properties.EventSourceArn) === settleQueueId());
      expect(consumers).toHaveLength(1);
    });

    it('is configured from the params, with the documented defaults', () => {
      expect(fn().Properties.Environment.Variables).toMatchObject({
        ENCRYPTION_MODE: 'SSE_S3', KMS_KEY_ARN: '', BLOCK_SSE_C: 'preserve', DRY_RUN: 'false', EXEMPT_TAG: 'encryption-guard:exempt', EXEMPT_BUCKETS: '',
        POWERTOOLS_SERVICE_NAME: 's3-encryption-guard',
      });
    });
  });

  describe('the function\'s role (least privilege)', () => {
    it('is granted only by explicit Allow statements with Action and Resource (no NotAction, no NotResource)', () => {
      expect(statements().length).toBeGreaterThan(0);
      for (const statement of statements()) {
        expect(statement).toEqual(expect.objectContaining({ Effect: 'Allow', Action: expect.anything(), Resource: expect.anything() }));
        expect(statement).not.toHaveProperty('NotAction');
        expect(statement).not.toHaveProperty('NotResource');
      }
      for (const role of GUARD_ROLES) expect(template.Resources[role].Properties.ManagedPolicyArns ?? []).toEqual([]);
    });

    it('lets only the sweep list buckets, continue itself and use its dead-letter queue', () => {
      const sweepOnly = ['s3:ListAllMyBuckets', 'lambda:InvokeFunction', 'sqs:SendMessage'];
      expect(actionsOf(template, GUARD_ROLE).filter((action) => sweepOnly.includes(action))).toEqual([]);
      expect(actionsOf(template, SWEEP_ROLE)).toEqual(expect.arrayContaining(sweepOnly));
      expect(actionsOf(template, SWEEP_ROLE).filter((action) => action.startsWith('sqs:Receive'))).toEqual([]);
    });

    it('lets the sweep continue itself by the ARN it is invoked as — unqualified, or a version or alias — and nothing else; Lambda lets that chain run', () => {
      const invoke = roleStatements(template, SWEEP_ROLE).filter((statement) => asArray<string>(statement.Action).includes('lambda:InvokeFunction'));
      const fnArn = 'arn:${AWS::Partition}:lambda:${AWS::Region}:${AWS::AccountId}:function:s3-encryption-guard-dev-sweepBuckets';
      expect(invoke.flatMap((statement) => asArray(statement.Resource).map(resourceText)).sort()).toEqual([fnArn, `${fnArn}:*`]);
      // Its chain (up to sweepMaxHops, 50) outlasts recursive loop detection (about 16 invocations): deliberately Allow.
      const [, sweep] = single(resourcesOfType(template, 'AWS::Lambda::Function').filter(([, each]) => each.Properties.Handler === 'handlers/sweep.handler'), 'sweepBuckets');
      expect(sweep.Properties.RecursiveLoop).toBe('Allow');
      expect(fn().Properties.RecursiveLoop).toBeUndefined();
    });

    it('has no wildcard actions (no "*", no "service:*", no "service:Get*")', () => {
      const wildcards = statements().flatMap((statement) => asArray<string>(statement.Action)).filter((action) => action.includes('*'));
      expect(wildcards).toEqual([]);
    });

    it('cannot read, write, list or delete objects: bucket configuration only', () => {
      const actions = statements().flatMap((statement) => asArray<string>(statement.Action));
      expect(actions.filter((action) => OBJECT_LEVEL_ACTIONS.includes(action) || /^s3-object-lambda:/.test(action))).toEqual([]);
      // Bucket ARNs only (no "/": no object ARNs); "*" only for actions that accept nothing else.
      const s3Statements = statements().filter((statement) => asArray<string>(statement.Action).some((action) => action.startsWith('s3:')));
      expect(s3Statements.length).toBeGreaterThan(0);
      for (const statement of s3Statements) {
        const resourceLevel = asArray<string>(statement.Action).some((action) => !NO_RESOURCE_LEVEL_ACTIONS.includes(action));
        for (const resource of asArray(statement.Resource).map(resourceText)) {
          if (resourceLevel) expect(resource).toMatch(/^arn:(aws[a-z-]*|\$\{AWS::Partition\}):s3:::[^/]+$/);
          else expect(resource).toMatch(/^(\*|arn:(aws[a-z-]*|\$\{AWS::Partition\}):s3:::[^/]+)$/);
        }
      }
    });

    it('may describe keys, but not use, grant or administer them', () => {
      const actions = statements().flatMap((statement) => asArray<string>(statement.Action));
      expect(actions).toEqual(expect.arrayContaining(['kms:DescribeKey']));
      expect(actions.filter((action) => FORBIDDEN_KMS_ACTIONS.includes(action))).toEqual([]);
    });

    it('scopes every KMS permission to key ARNs (no "*", no aliases), but ListAliases, which IAM scopes to "*" only, alone in its statement', () => {
      const kmsResources = statements().filter(keyScoped).flatMap((statement) => asArray(statement.Resource).map(resourceText));
      expect(kmsResources.length).toBeGreaterThan(0);
      for (const resource of kmsResources) expect(resource).toMatch(KEY_ARN);
      for (const role of GUARD_ROLES) {
        const listAliases = roleStatements(template, role).filter((statement) => asArray<string>(statement.Action).includes('kms:ListAliases'));
        expect(listAliases.map((statement) => [asArray(statement.Action), statement.Resource])).toEqual([[['kms:ListAliases'], '*']]);
      }
    });
  });

  it('has the resources the doctor reads under the logical ids it looks for', () => {
    expect(bucketEventsRule(template)[0]).toBe(RULE_ID);
    expect(enforceFunction(template)[0]).toBe(ENFORCE_FUNCTION_ID);
    for (const id of [SETTLE_QUEUE_ID, ...DEAD_LETTER_QUEUES.map((queue) => queue.id)]) expect(template.Resources[id]?.Type).toBe('AWS::SQS::Queue');
    const [mappingId] = single(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(([, mapping]) => targetOf(mapping.Properties.EventSourceArn) === SETTLE_QUEUE_ID), 'mapping of the settle queue');
    expect(mappingId).toBe(SETTLE_QUEUE_MAPPING_ID);
  });

  it('lets only the sweep read and write its warning memory in the flap-ledger table, in batches', () => {
    expect(actionsOf(template, SWEEP_ROLE)).toEqual(expect.arrayContaining(['dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem']));
    expect(actionsOf(template, GUARD_ROLE).filter((action) => action.startsWith('dynamodb:Batch'))).toEqual([]);
  });

  it('deploys nothing of the organisation hub while organization is off (the default)', () => {
    expect(Object.keys(template.Resources).filter((id) => /Hub|SweepWork/.test(id))).toEqual([]);
    expect(resourcesOfType(template, 'AWS::Events::EventBus')).toEqual([]);
    expect(fn().Properties.Environment.Variables).toMatchObject({ ORGANIZATION: 'off', SWEEP_WORK_QUEUE_NAME: '' });
    expect(statements().flatMap((statement) => asArray<string>(statement.Action)).filter((action) => action === 'sts:AssumeRole' || action.startsWith('organizations:'))).toEqual([]);
  });

  it('has no trail unless createTrail=true', () => {
    expect(resourcesOfType(template, 'AWS::CloudTrail::Trail')).toEqual([]);
  });

  it('deploys nothing of re-keying existing objects while reencryptObjects is off (the default)', () => {
    expect(Object.keys(template.Resources).filter((id) => /Reencrypt|BatchOperations/.test(id))).toEqual([]);
    expect(fn().Properties.Environment.Variables).toMatchObject({ REENCRYPT_OBJECTS: 'off', REENCRYPT_QUEUE_NAME: '' });
    const actions = Object.values(template.Resources).filter((r) => r.Type === 'AWS::IAM::Role' || r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => [...asArray<any>(r.Properties?.Policies).map((p: any) => p.PolicyDocument), r.Properties?.PolicyDocument].filter(Boolean))
      .flatMap((doc: any) => asArray<any>(doc.Statement)).flatMap((statement) => asArray<string>(statement.Action));
    expect(actions.filter((action) => action === 's3:UpdateObjectEncryption' || action === 'iam:PassRole' || action === 's3:CreateJob')).toEqual([]);
  });
});

describe('packaging with other params', () => {
  let service: StagedService;
  beforeAll(() => { service = stageService(); });
  afterAll(() => service?.remove());

  it('refuses encryptionMode=SSE_C with one message naming ENCRYPTION_MODE', async () => {
    const packaged = await packageService(service, { encryptionMode: 'SSE_C' });
    expect(packaged.result.status).not.toBe(0);
    expect(packaged.template).toBeUndefined();
    expect(`${packaged.result.stdout}${packaged.result.stderr}`).toMatch(/ENCRYPTION_MODE \(param encryptionMode\)[^\n]*SSE_C/);
  }, CLI_TIMEOUT);

  it('with createTrail=true adds a logging multi-region trail of management write events, and still passes cfn-lint', async () => {
    const { template, templatePath } = expectPackaged(await packageService(service, { createTrail: 'true' }));
    const [trailId, trail] = single(resourcesOfType(template, 'AWS::CloudTrail::Trail'), 'trail');
    const bucketId = targetOf(trail.Properties.S3BucketName) as string;
    expect(template.Resources[bucketId].Type).toBe('AWS::S3::Bucket');
    expect(trail.Properties).toMatchObject({ IsLogging: true, IsMultiRegionTrail: true, IncludeGlobalServiceEvents: true });
    expect(trail.Properties.EventSelectors).toEqual(expect.arrayContaining([
      expect.objectContaining({ IncludeManagementEvents: true, ReadWriteType: expect.stringMatching(/^(WriteOnly|All)$/) }),
    ]));
    const [policyId] = single(resourcesOfType(template, 'AWS::S3::BucketPolicy').filter(([, policy]) => targetOf(policy.Properties.Bucket) === bucketId), 'trail bucket policy');
    // CloudTrail checks the bucket policy when the trail is created: the policy must exist first.
    expect(asArray(template.Resources[trailId].DependsOn)).toContain(policyId);
    // One trail per account: only the stack of trailRegion (default: its own region) creates it.
    for (const id of [trailId, bucketId, policyId]) expect(template.Resources[id]).toMatchObject({ Condition: 'IsTrailRegion' });
    expect((template as any).Conditions.IsTrailRegion).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] });
    expectLintClean(templatePath);
  }, CLI_TIMEOUT);

  it('with createTrail=true and another trailRegion creates the trail only in that region\'s stack', async () => {
    const { template, templatePath } = expectPackaged(await packageService(service, { createTrail: 'true', trailRegion: 'eu-west-1' }));
    expect((template as any).Conditions.IsTrailRegion).toEqual({ 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] });
    for (const [, resource] of resourcesOfType(template, 'AWS::CloudTrail::Trail')) expect(resource.Condition).toBe('IsTrailRegion');
    expectLintClean(templatePath);
  }, CLI_TIMEOUT);

  it('with a customer managed key lists that key (even of another account) among the keys the role may describe', async () => {
    const key = 'arn:aws:kms:us-east-1:111122223333:key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
    const { template } = expectPackaged(await packageService(service, { encryptionMode: 'SSE_KMS_CUSTOMER_MANAGED', kmsKeyArn: key }));
    const kmsResources = GUARD_ROLES.flatMap((role) => roleStatements(template, role)).filter(keyScoped)
      .flatMap((statement) => asArray(statement.Resource).map(resourceText));
    expect(kmsResources).toContain(key);
    for (const resource of kmsResources) expect(resource).toMatch(KEY_ARN);
    const [, fn] = enforceFunction(template);
    expect(fn.Properties.Environment.Variables).toMatchObject({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: key });
  }, CLI_TIMEOUT);
});
