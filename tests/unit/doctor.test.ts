/**
 * The doctor's checks: each decision on its own (pure), then the whole run against a mocked account
 * (aws-sdk-client-mock), including IAM's SimulatePrincipalPolicy, which the emulator lacks.
 */
import { CloudFormationClient, ListStackResourcesCommand } from '@aws-sdk/client-cloudformation';
import { CloudTrailClient, DescribeTrailsCommand, GetEventSelectorsCommand, GetTrailStatusCommand } from '@aws-sdk/client-cloudtrail';
import { CloudWatchClient, GetMetricDataCommand } from '@aws-sdk/client-cloudwatch';
import { DescribeRuleCommand, EventBridgeClient, ListTargetsByRuleCommand } from '@aws-sdk/client-eventbridge';
import { IAMClient, ListRolesCommand, ListUsersCommand, SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { DescribeKeyCommand, GetKeyPolicyCommand, GetKeyRotationStatusCommand, KMSClient } from '@aws-sdk/client-kms';
import { GetEventSourceMappingCommand, GetFunctionConfigurationCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  DescribeEffectivePolicyCommand, DescribeOrganizationCommand, DescribePolicyCommand, ListParentsCommand, ListPoliciesForTargetCommand, OrganizationsClient,
} from '@aws-sdk/client-organizations';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SQSClient } from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import { mockClient } from 'aws-sdk-client-mock';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createDoctorClients } from '../../lib/doctor/aws';
import { type Check, exitCodeOf } from '../../lib/doctor/check';
import { deadLetterCheck, ruleCheck, settleQueueCheck } from '../../lib/doctor/delivery';
import { keyCheck } from '../../lib/doctor/keys';
import { decisionsOf, kmsAccessCheck, type KmsAccessInput, objectsArn, readKeyPolicy } from '../../lib/doctor/kms-access';
import { guardrailsCoveredBy, orgControlsCheck, s3PolicyBlocksPublicAccess } from '../../lib/doctor/org-controls';
import { toJson, toTable } from '../../lib/doctor/report';
import { type DoctorOptions, runDoctor } from '../../lib/doctor/run';
import { configCheck, DEAD_LETTER_QUEUES, deadLetterQueuesIn, stackName } from '../../lib/doctor/stack';
import { recordsS3Writes, type TrailFacts, trailCheck } from '../../lib/doctor/trails';
import { SERVICE_NAME } from '../../lib/metric-names';
import { s3Error } from './aws-mocks';

const REGION = 'eu-west-1';
const ACCOUNT = '111122223333';
const KEY = `arn:aws:kms:${REGION}:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`;
const SETTLE_ARN = `arn:aws:sqs:${REGION}:${ACCOUNT}:guard-SettleQueue-A`;
const ROOT_DELEGATION = JSON.stringify({ Version: '2012-10-17', Statement: [{ Sid: 'Enable IAM User Permissions', Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${ACCOUNT}:root` }, Action: 'kms:*', Resource: '*' }] });
const GUARDRAILS = { PUBLIC_ACCESS_BLOCK: 'report', REQUIRE_TLS: 'report', REQUIRE_SIGV4: 'off', DENY_WEAKER_UPLOADS: 'report' } as const;

const trail = (facts: Partial<TrailFacts> = {}): TrailFacts => ({
  name: 'org-trail', homeRegion: 'us-east-1', multiRegion: true, organization: false, logging: true, selectors: { basic: [{ ReadWriteType: 'All', IncludeManagementEvents: true }], advanced: [] }, ...facts,
});

describe('the checks, decision by decision', () => {
  describe('trail', () => {
    it('passes when a logging trail covering the region records write management events; an organisation trail counts', () => {
      expect(trailCheck(REGION, [trail({ organization: true })])).toMatchObject({ status: 'PASS', detail: expect.stringContaining('"org-trail" (organisation, multi-region) logs write management events in eu-west-1') });
      expect(trailCheck(REGION, [trail({ multiRegion: false, homeRegion: REGION })]).status).toBe('PASS');
    });

    it('fails when no trail covers the region, a trail is stopped, or it records no write management events', () => {
      expect(trailCheck(REGION, [])).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/^no trail covers eu-west-1: .*createTrail=true/) });
      expect(trailCheck(REGION, [trail({ multiRegion: false, homeRegion: 'us-east-1' })]).detail).toContain('covers other regions only');
      expect(trailCheck(REGION, [trail({ logging: false })])).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('is not logging') });
      expect(trailCheck(REGION, [trail({ selectors: { basic: [{ ReadWriteType: 'ReadOnly' }], advanced: [] } })])).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('does not record write management events of S3') });
    });

    it('reads advanced selectors: management events, not read-only only, S3 not excluded', () => {
      const management = { Field: 'eventCategory', Equals: ['Management'] };
      expect(recordsS3Writes({ basic: [], advanced: [{ FieldSelectors: [management] }] })).toBe(true);
      expect(recordsS3Writes({ basic: [], advanced: [{ FieldSelectors: [management, { Field: 'readOnly', Equals: ['false'] }] }] })).toBe(true);
      expect(recordsS3Writes({ basic: [], advanced: [{ FieldSelectors: [management, { Field: 'readOnly', Equals: ['true'] }] }] })).toBe(false);
      expect(recordsS3Writes({ basic: [], advanced: [{ FieldSelectors: [management, { Field: 'eventSource', NotEquals: ['s3.amazonaws.com'] }] }] })).toBe(false);
      expect(recordsS3Writes({ basic: [], advanced: [{ FieldSelectors: [{ Field: 'eventCategory', Equals: ['Data'] }, { Field: 'resources.type', Equals: ['AWS::S3::Object'] }] }] })).toBe(false);
      expect(recordsS3Writes({ basic: [{ IncludeManagementEvents: false }], advanced: [] })).toBe(false);
    });

    it('warns, not fails, when an organisation trail\'s status cannot be read from a member account', () => {
      const check = trailCheck(REGION, [trail({ organization: true, logging: undefined, selectors: undefined, unreadable: 'status: AccessDeniedException' })]);
      expect(check).toMatchObject({ status: 'WARN', detail: expect.stringContaining('management account') });
    });
  });

  describe('rule and queues', () => {
    const rule = { name: 'guard-BucketEventsRule-X', state: 'ENABLED', targets: [{ arn: SETTLE_ARN, deadLetterArn: 'arn:dlq' }] };
    it('passes an enabled rule that targets the settle queue; fails a disabled one or one that lost its target', () => {
      expect(ruleCheck(rule, SETTLE_ARN).status).toBe('PASS');
      expect(ruleCheck({ ...rule, state: 'DISABLED' }, SETTLE_ARN)).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('aws events enable-rule --name guard-BucketEventsRule-X') });
      expect(ruleCheck({ ...rule, targets: [] }, SETTLE_ARN)).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('does not target the settle queue') });
    });

    const queue = { arn: 'arn:aws:sqs:eu-west-1:111122223333:dlq', visible: 0, inFlight: 0, delayed: 0, delaySeconds: 0 };
    it('fails a dead-letter queue with messages, saying how many, since when, and how to redrive', () => {
      expect(deadLetterCheck('settle-dlq', 'settle DLQ', 'events that kept failing', queue).status).toBe('PASS');
      expect(deadLetterCheck('settle-dlq', 'settle DLQ', 'events that kept failing', { ...queue, visible: 3, oldestAgeSeconds: 5_400 })).toEqual({
        id: 'settle-dlq', status: 'FAIL',
        detail: expect.stringMatching(/^3 messages in the settle DLQ \(oldest 90 min old\): events that kept failing\. .*start-message-move-task --source-arn arn:aws:sqs:eu-west-1:111122223333:dlq/),
      });
      expect(deadLetterCheck('settle-dlq', 'settle DLQ', 'x', { ...queue, visible: 1 }).detail).toContain('age unknown (no CloudWatch datapoint in the last hour)');
    });

    it('fails a settle queue that no longer feeds enforceBucket, and warns when messages wait far past the settle delay', () => {
      const settle = { ...queue, delaySeconds: 60, delayed: 2 };
      expect(settleQueueCheck(settle, { state: 'Enabled' })).toMatchObject({ status: 'PASS', detail: '2 settling, 0 waiting, 0 in flight (settle delay 60 s); feeds enforceBucket' });
      expect(settleQueueCheck(settle, { state: 'Disabled' })).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('event source mapping is Disabled') });
      expect(settleQueueCheck({ ...settle, visible: 40, oldestAgeSeconds: 3_600 }, { state: 'Enabled' }).status).toBe('WARN');
    });
  });

  describe('keys', () => {
    const facts = { found: true as const, arn: KEY, accountId: ACCOUNT, region: REGION, keyState: 'Enabled', keySpec: 'SYMMETRIC_DEFAULT', keyUsage: 'ENCRYPT_DECRYPT', keyManager: 'CUSTOMER', rotationEnabled: true };
    it('passes a usable key with rotation on, warns when rotation is off, fails what would break writers', () => {
      expect(keyCheck(KEY, facts)).toMatchObject({ id: `key:${KEY}`, status: 'PASS' });
      expect(keyCheck(KEY, { ...facts, rotationEnabled: false })).toMatchObject({ status: 'WARN', detail: expect.stringContaining('aws kms enable-key-rotation') });
      expect(keyCheck(KEY, { ...facts, keyState: 'Disabled' })).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('is Disabled') });
      expect(keyCheck(KEY, { ...facts, keySpec: 'RSA_2048' }).status).toBe('FAIL');
      expect(keyCheck(KEY, { ...facts, keyUsage: 'SIGN_VERIFY' }).status).toBe('FAIL');
      expect(keyCheck(KEY, { ...facts, region: 'us-east-1' }).status).toBe('FAIL');
      expect(keyCheck(KEY, { found: false, reason: `key ${KEY} does not exist` }).status).toBe('FAIL');
    });
  });

  describe('who would break', () => {
    const role = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
    const decisions = (entries: Record<string, 'allowed' | 'explicitDeny' | 'implicitDeny'>) => new Map(Object.entries(entries));
    const writer = (kms: 'allowed' | 'implicitDeny' | 'explicitDeny') => decisions({ [`s3:PutObject ${objectsArn('data')}`]: 'allowed', [`kms:GenerateDataKey ${KEY}`]: kms });
    const input = (overrides: Partial<KmsAccessInput> = {}): KmsAccessInput => ({
      keyArn: KEY, awsManaged: false, keyPolicy: readKeyPolicy(ROOT_DELEGATION, ACCOUNT), buckets: ['data'], moreBuckets: false,
      principals: [], morePrincipals: false, skippedServiceLinked: 0, enforced: true, ...overrides,
    });

    it('names writers without kms:GenerateDataKey and readers without kms:Decrypt: FAIL when enforced, WARN in a preview', () => {
      const principals = [
        { arn: role('app-writer'), decisions: writer('implicitDeny') },
        { arn: role('app-reader'), decisions: decisions({ [`s3:GetObject ${objectsArn('data')}`]: 'allowed' }) },
        { arn: role('ok-writer'), decisions: writer('allowed') },
        { arn: role('unrelated'), decisions: decisions({}) },
      ];
      expect(kmsAccessCheck(input({ principals }))).toEqual({
        id: 'kms-access', status: 'FAIL',
        detail: expect.stringMatching(/^2 principals would break with arn:aws:kms:.*: role\/app-writer \(writes but lacks kms:GenerateDataKey\), role\/app-reader \(reads but lacks kms:Decrypt\)\. Grant them/),
      });
      expect(kmsAccessCheck(input({ principals, enforced: false })).status).toBe('WARN');
      expect(kmsAccessCheck(input({ principals: principals.slice(2) }))).toMatchObject({ status: 'PASS', detail: expect.stringMatching(/^1 of the principals/) });
    });

    it('trusts IAM only as far as the key policy lets it: without the root statement, only principals the key policy names can use the key', () => {
      const named = JSON.stringify({ Statement: [{ Effect: 'Allow', Principal: { AWS: role('named') }, Action: ['kms:GenerateDataKey*', 'kms:Decrypt'], Resource: '*' }] });
      const principals = [{ arn: role('named'), decisions: writer('implicitDeny') }, { arn: role('iam-only'), decisions: writer('allowed') }];
      const check = kmsAccessCheck(input({ keyPolicy: readKeyPolicy(named, ACCOUNT), principals }));
      expect(check.detail).toMatch(/^1 principal would break .*role\/iam-only/);
    });

    it('with aws/s3 breaks only explicit denies, and says other accounts cannot use it', () => {
      const awsManaged = input({ awsManaged: true, keyPolicy: { delegatesToIam: true, allows: () => false } });
      expect(kmsAccessCheck({ ...awsManaged, principals: [{ arn: role('w'), decisions: writer('implicitDeny') }] })).toMatchObject({ status: 'PASS', detail: expect.stringContaining('other accounts cannot use aws/s3') });
      expect(kmsAccessCheck({ ...awsManaged, principals: [{ arn: role('w'), decisions: writer('explicitDeny') }] }).status).toBe('FAIL');
    });

    it('says how far it looked: principals and buckets checked, more not checked, service-linked roles skipped', () => {
      expect(kmsAccessCheck(input({ morePrincipals: true, moreBuckets: true, skippedServiceLinked: 4 })).detail)
        .toContain('checked 0 roles and users (more exist: raise --max-principals), 1 bucket (more exist: name them with --bucket), 4 service-linked roles skipped');
    });

    it('reads per-resource decisions from SimulatePrincipalPolicy (the top level aggregates across resources)', () => {
      const resources = [objectsArn('a'), objectsArn('b')];
      const read = decisionsOf([{ EvalActionName: 's3:PutObject', EvalDecision: 'implicitDeny', ResourceSpecificResults: [{ EvalResourceName: resources[0], EvalResourceDecision: 'allowed' }, { EvalResourceName: resources[1], EvalResourceDecision: 'implicitDeny' }] }], resources);
      expect(Object.fromEntries(read)).toEqual({ [`s3:PutObject ${resources[0]}`]: 'allowed', [`s3:PutObject ${resources[1]}`]: 'implicitDeny' });
      expect(Object.fromEntries(decisionsOf([{ EvalActionName: 'kms:Decrypt', EvalDecision: 'allowed' }], [KEY]))).toEqual({ [`kms:Decrypt ${KEY}`]: 'allowed' });
    });

    it('assumes the default key policy, and says so, when the key policy cannot be read', () => {
      expect(readKeyPolicy(undefined, ACCOUNT, 'AccessDeniedException')).toMatchObject({ delegatesToIam: true, unknown: 'AccessDeniedException' });
      expect(readKeyPolicy(ROOT_DELEGATION, ACCOUNT).delegatesToIam).toBe(true);
    });
  });

  describe('organisation controls', () => {
    const tlsRcp = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { BoolIfExists: { 'aws:SecureTransport': 'false' } } }] });
    it('recognises RCP statements that already enforce TLS, SigV4 or upload encryption', () => {
      expect(guardrailsCoveredBy(JSON.parse(tlsRcp).Statement[0])).toEqual(['REQUIRE_TLS']);
      expect(guardrailsCoveredBy({ Effect: 'Deny', Action: 's3:*', Condition: { StringNotEquals: { 's3:signatureversion': 'AWS4-HMAC-SHA256' } } })).toEqual(['REQUIRE_SIGV4']);
      expect(guardrailsCoveredBy({ Effect: 'Deny', Action: 's3:PutObject', Condition: { StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' } } })).toEqual(['DENY_WEAKER_UPLOADS']);
      expect(guardrailsCoveredBy({ Effect: 'Allow', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })).toEqual([]);
      expect(s3PolicyBlocksPublicAccess(JSON.stringify({ s3_attributes: { public_access_block_configuration: { '@@assign': 'all' } } }))).toBe(true);
      expect(s3PolicyBlocksPublicAccess(JSON.stringify({ s3_attributes: { public_access_block_configuration: { '@@assign': 'none' } } }))).toBe(false);
    });

    it('warns when a guardrail is enforced twice, passes when the organisation covers it and the guard only reports', () => {
      const facts = { inOrganization: true as const, rcps: [{ id: 'p-1', name: 'require-tls', content: tlsRcp }], s3Policy: null };
      expect(orgControlsCheck(facts, { ...GUARDRAILS, REQUIRE_TLS: 'enforce' })).toMatchObject({ status: 'WARN', detail: expect.stringContaining('enforced twice: REQUIRE_TLS (also RCP "require-tls")') });
      expect(orgControlsCheck(facts, GUARDRAILS)).toMatchObject({ status: 'PASS', detail: expect.stringContaining('REQUIRE_TLS by RCP "require-tls"') });
    });

    it('warns, never fails, when policies cannot be read (a member account); passes outside an organisation', () => {
      expect(orgControlsCheck({ inOrganization: true, rcps: { error: 'AccessDeniedException: …' }, s3Policy: null }, GUARDRAILS))
        .toMatchObject({ status: 'WARN', detail: expect.stringContaining('could not read resource control policies (AccessDeniedException') });
      expect(orgControlsCheck({ inOrganization: false }, GUARDRAILS).status).toBe('PASS');
      expect(orgControlsCheck({ error: 'AccessDeniedException' }, GUARDRAILS).status).toBe('WARN');
    });
  });

  describe('stack and configuration', () => {
    it('names the stack as serverless does: <service>-<stage>, with serverless.yml\'s service', () => {
      const service = /^service:\s*(\S+)/m.exec(readFileSync(join(__dirname, '..', '..', 'serverless.yml'), 'utf8'))?.[1];
      expect(service).toBe(SERVICE_NAME);
      expect(stackName('prod')).toBe('s3-encryption-guard-prod');
    });

    it('checks the deployed environment as the function does at cold start', () => {
      expect(configCheck({ ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: '' }, REGION).check).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('KMS_KEY_ARN (param kmsKeyArn) is required') });
      expect(configCheck({ ENCRYPTION_MODE: 'SSE_S3' }, REGION).check.status).toBe('PASS');
    });
  });

  it('exits 0 only when nothing fails, and prints JSON as { checks: [{ id, status, detail }] }', () => {
    const checks: Check[] = [{ id: 'a', status: 'PASS', detail: 'x' }, { id: 'b', status: 'WARN', detail: 'y' }];
    expect(exitCodeOf(checks)).toBe(0);
    expect(exitCodeOf([...checks, { id: 'c', status: 'FAIL', detail: 'z' }])).toBe(1);
    const report = { stack: 's', region: REGION, account: ACCOUNT, checks };
    expect(JSON.parse(toJson(report))).toEqual({ checks });
    expect(toTable(report)).toMatch(/^STATUS CHECK {2}DETAIL/m);
    // A long id (a key's ARN) gets its own line; its detail keeps the column.
    const long = toTable({ ...report, checks: [{ id: `key:${KEY}`, status: 'WARN', detail: 'rotation off' }] }, 80).split('\n');
    expect(long.slice(3, 5)).toEqual([`WARN   key:${KEY}`, `${' '.repeat(23)}rotation off`]);
  });
});

describe('runDoctor against a mocked account', () => {
  const mocks = {
    cloudformation: mockClient(CloudFormationClient), cloudtrail: mockClient(CloudTrailClient), cloudwatch: mockClient(CloudWatchClient),
    events: mockClient(EventBridgeClient), iam: mockClient(IAMClient), kms: mockClient(KMSClient), lambda: mockClient(LambdaClient),
    organizations: mockClient(OrganizationsClient), s3: mockClient(S3Client), sqs: mockClient(SQSClient), sts: mockClient(STSClient),
  };
  afterAll(() => { for (const mock of Object.values(mocks)) mock.restore(); });
  const queueUrl = (id: string) => `https://sqs.${REGION}.amazonaws.com/${ACCOUNT}/guard-${id}`;
  const options: DoctorOptions = { stage: 'prod', maxBuckets: 20, maxPrincipals: 100 };
  const WRITER = `arn:aws:iam::${ACCOUNT}:role/app-writer`;

  /** The deployed stack's resources, as CloudFormation lists them. */
  const stackResources = (...more: string[][]) => [
    ['BucketEventsRule', 'AWS::Events::Rule', 'guard-BucketEventsRule-X'],
    ['EnforceBucketLambdaFunction', 'AWS::Lambda::Function', 's3-encryption-guard-prod-enforceBucket'],
    ['EnforceBucketEventSourceMappingSQSSettleQueue', 'AWS::Lambda::EventSourceMapping', 'uuid-1'],
    ...['SettleQueue', 'SettleDeadLetterQueue', 'DeliveryDeadLetterQueue', 'SweepDeadLetterQueue'].map((id) => [id, 'AWS::SQS::Queue', queueUrl(id)]),
    ...more,
  ].map(([LogicalResourceId, ResourceType, PhysicalResourceId]) => ({ LogicalResourceId, ResourceType, PhysicalResourceId, ResourceStatus: 'CREATE_COMPLETE' as const, LastUpdatedTimestamp: new Date() }));

  /** A healthy deployment in KMS mode: every read answers, one writer role has the key. */
  beforeEach(() => {
    for (const mock of Object.values(mocks)) mock.reset();
    mocks.sts.on(GetCallerIdentityCommand).resolves({ Account: ACCOUNT });
    mocks.cloudformation.on(ListStackResourcesCommand, { StackName: 's3-encryption-guard-prod' }).resolves({ StackResourceSummaries: stackResources() });
    mocks.lambda.on(GetFunctionConfigurationCommand).resolves({ Environment: { Variables: { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: KEY, REQUIRE_TLS: 'enforce' } } });
    mocks.lambda.on(GetEventSourceMappingCommand).resolves({ State: 'Enabled' });
    mocks.sqs.on(GetQueueAttributesCommand).callsFake(async ({ QueueUrl }) => ({
      Attributes: { QueueArn: QueueUrl.endsWith('SettleQueue') ? SETTLE_ARN : `arn:aws:sqs:${REGION}:${ACCOUNT}:${QueueUrl.split('/').pop()}`, ApproximateNumberOfMessages: '0', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0', DelaySeconds: '60' },
    }));
    mocks.events.on(DescribeRuleCommand).resolves({ Name: 'guard-BucketEventsRule-X', State: 'ENABLED' });
    mocks.events.on(ListTargetsByRuleCommand).resolves({ Targets: [{ Id: 'settle-queue', Arn: SETTLE_ARN }] });
    mocks.cloudtrail.on(DescribeTrailsCommand).resolves({ trailList: [{ Name: 'org-trail', TrailARN: `arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail`, HomeRegion: 'us-east-1', IsMultiRegionTrail: true, IsOrganizationTrail: true }] });
    mocks.cloudtrail.on(GetTrailStatusCommand).resolves({ IsLogging: true });
    mocks.cloudtrail.on(GetEventSelectorsCommand).resolves({ AdvancedEventSelectors: [{ Name: 'management', FieldSelectors: [{ Field: 'eventCategory', Equals: ['Management'] }, { Field: 'readOnly', Equals: ['false'] }] }] });
    mocks.kms.on(DescribeKeyCommand).resolves({ KeyMetadata: { KeyId: 'k', Arn: KEY, AWSAccountId: ACCOUNT, KeyState: 'Enabled', KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT', KeyManager: 'CUSTOMER' } });
    mocks.kms.on(GetKeyRotationStatusCommand).resolves({ KeyRotationEnabled: true });
    mocks.kms.on(GetKeyPolicyCommand).resolves({ Policy: ROOT_DELEGATION });
    mocks.iam.on(ListRolesCommand).resolves({ Roles: [
      { RoleName: 'app-writer', Arn: WRITER, Path: '/', RoleId: 'r1', CreateDate: new Date() },
      { RoleName: 'AWSServiceRoleForSupport', Arn: `arn:aws:iam::${ACCOUNT}:role/aws-service-role/support.amazonaws.com/AWSServiceRoleForSupport`, Path: '/aws-service-role/support.amazonaws.com/', RoleId: 'r2', CreateDate: new Date() },
    ] });
    mocks.iam.on(ListUsersCommand).resolves({ Users: [] });
    mocks.iam.on(SimulatePrincipalPolicyCommand).callsFake(async ({ ActionNames, ResourceArns }: { ActionNames: string[]; ResourceArns: string[] }) => ({
      EvaluationResults: ActionNames.map((action) => ({
        EvalActionName: action, EvalDecision: 'allowed',
        ResourceSpecificResults: ResourceArns.map((resource) => ({ EvalResourceName: resource, EvalResourceDecision: (action.startsWith('s3:') === resource.startsWith('arn:aws:s3')) ? 'allowed' : 'implicitDeny' })),
      })),
    }));
    mocks.s3.on(ListBucketsCommand).resolves({ Buckets: [{ Name: 'data' }, { Name: 'logs' }] });
    mocks.organizations.on(DescribeOrganizationCommand).resolves({ Organization: { Id: 'o-abc' } });
    mocks.organizations.on(ListParentsCommand).callsFake(async ({ ChildId }) => ({ Parents: [ChildId === ACCOUNT ? { Id: 'ou-1', Type: 'ORGANIZATIONAL_UNIT' } : { Id: 'r-root', Type: 'ROOT' }] }));
    mocks.organizations.on(ListPoliciesForTargetCommand).callsFake(async ({ TargetId }) => ({ Policies: TargetId === 'ou-1' ? [{ Id: 'p-tls', Name: 'require-tls' }] : [{ Id: 'p-RCPFullAWSAccess', Name: 'RCPFullAWSAccess' }] }));
    mocks.organizations.on(DescribePolicyCommand).resolves({ Policy: { PolicySummary: { Id: 'p-tls', Name: 'require-tls' }, Content: JSON.stringify({ Statement: [{ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }] }) } });
    mocks.organizations.on(DescribeEffectivePolicyCommand).rejects(s3Error('EffectivePolicyNotFoundException', 400));
  });

  const run = async (overrides: Partial<DoctorOptions> = {}) => {
    const report = await runDoctor(createDoctorClients({ region: REGION }), { ...options, ...overrides });
    return { report, byId: Object.fromEntries(report.checks.map((check) => [check.id, check])) };
  };

  it('checks a healthy KMS deployment: every check passes but the TLS guardrail the organisation already enforces', async () => {
    const { report, byId } = await run();
    expect(report).toMatchObject({ stack: 's3-encryption-guard-prod', account: ACCOUNT, region: REGION });
    expect(report.checks.map((check) => `${check.id}:${check.status}`)).toEqual([
      'stack:PASS', 'config:PASS', 'rule:PASS', 'settle-queue:PASS', 'settle-dlq:PASS', 'delivery-dlq:PASS', 'sweep-dlq:PASS',
      'trail:PASS', `key:${KEY}:PASS`, 'kms-access:PASS', 'org-controls:WARN',
    ]);
    expect(byId['org-controls'].detail).toContain('REQUIRE_TLS (also RCP "require-tls")');
    expect(exitCodeOf(report.checks)).toBe(0);
    // The organisation trail is read in its home region, by ARN.
    expect(mocks.cloudtrail.commandCalls(GetTrailStatusCommand)[0].args[0].input).toEqual({ Name: 'arn:aws:cloudtrail:us-east-1:999988887777:trail/org-trail' });
  });

  it('simulates each role and user (service-linked roles skipped) on the buckets\' objects and the key, in one call each', async () => {
    await run();
    const calls = mocks.iam.commandCalls(SimulatePrincipalPolicyCommand);
    expect(calls.map((call) => call.args[0].input)).toEqual([{
      PolicySourceArn: WRITER, ActionNames: ['s3:PutObject', 's3:GetObject', 'kms:GenerateDataKey', 'kms:Decrypt'], ResourceArns: ['arn:aws:s3:::data/*', 'arn:aws:s3:::logs/*', KEY],
    }]);
    expect(mocks.s3.commandCalls(ListBucketsCommand)[0].args[0].input).toEqual({ BucketRegion: REGION, MaxBuckets: 20 });
  });

  it('fails kms-access when a writer cannot use the key, and only warns for a preview (dry run)', async () => {
    mocks.iam.on(SimulatePrincipalPolicyCommand).resolves({ EvaluationResults: [
      { EvalActionName: 's3:PutObject', EvalDecision: 'allowed', ResourceSpecificResults: [{ EvalResourceName: 'arn:aws:s3:::data/*', EvalResourceDecision: 'allowed' }] },
      { EvalActionName: 'kms:GenerateDataKey', EvalDecision: 'implicitDeny', ResourceSpecificResults: [{ EvalResourceName: KEY, EvalResourceDecision: 'implicitDeny' }] },
    ] });
    expect((await run()).byId['kms-access']).toMatchObject({ status: 'FAIL', detail: expect.stringContaining('role/app-writer (writes but lacks kms:GenerateDataKey)') });
    mocks.lambda.on(GetFunctionConfigurationCommand).resolves({ Environment: { Variables: { ENCRYPTION_MODE: 'SSE_KMS_CUSTOMER_MANAGED', KMS_KEY_ARN: KEY, DRY_RUN: 'true' } } });
    expect((await run()).byId['kms-access'].status).toBe('WARN');
  });

  it('reports SimulatePrincipalPolicy failing (the emulator answers HTTP 500) as WARN "could not be run", never a crash', async () => {
    mocks.iam.on(SimulatePrincipalPolicyCommand).rejects(s3Error('InternalFailure', 500));
    expect((await run()).byId['kms-access']).toMatchObject({ status: 'WARN', detail: expect.stringMatching(/^who would break could not be run \(iam:SimulatePrincipalPolicy failed: InternalFailure/) });
  });

  it('previews a mode before it is deployed (--mode): no kms-access for SSE_S3, a WARN preview for aws/s3', async () => {
    mocks.lambda.on(GetFunctionConfigurationCommand).resolves({ Environment: { Variables: { ENCRYPTION_MODE: 'SSE_S3' } } });
    expect((await run()).byId['kms-access']).toBeUndefined();
    mocks.kms.on(DescribeKeyCommand, { KeyId: 'alias/aws/s3' }).resolves({ KeyMetadata: { KeyId: 'aws', Arn: `arn:aws:kms:${REGION}:${ACCOUNT}:key/aws-s3`, KeyManager: 'AWS' } });
    mocks.iam.on(SimulatePrincipalPolicyCommand).resolves({ EvaluationResults: [
      { EvalActionName: 's3:PutObject', EvalDecision: 'allowed', ResourceSpecificResults: [{ EvalResourceName: 'arn:aws:s3:::data/*', EvalResourceDecision: 'allowed' }] },
      { EvalActionName: 'kms:GenerateDataKey', EvalDecision: 'explicitDeny', ResourceSpecificResults: [{ EvalResourceName: `arn:aws:kms:${REGION}:${ACCOUNT}:key/aws-s3`, EvalResourceDecision: 'explicitDeny' }] },
    ] });
    expect((await run({ mode: 'SSE_KMS_AWS_MANAGED' })).byId['kms-access']).toMatchObject({ status: 'WARN', detail: expect.stringContaining('would break with aws/s3') });
  });

  it('turns a member account\'s AccessDenied on organisation policies into a WARN saying they could not be read', async () => {
    mocks.organizations.on(ListParentsCommand).rejects(s3Error('AccessDeniedException', 400));
    mocks.organizations.on(DescribeEffectivePolicyCommand).rejects(s3Error('AccessDeniedException', 400));
    const check = (await run()).byId['org-controls'];
    expect(check).toMatchObject({ status: 'WARN', detail: expect.stringContaining('could not read resource control policies (AccessDeniedException') });
    mocks.organizations.on(DescribeOrganizationCommand).rejects(s3Error('AWSOrganizationsNotInUseException', 400));
    expect((await run()).byId['org-controls'].status).toBe('PASS');
  });

  it('says what is waiting in a dead-letter queue and since when, from CloudWatch', async () => {
    mocks.sqs.on(GetQueueAttributesCommand, { QueueUrl: queueUrl('SweepDeadLetterQueue') }).resolves({ Attributes: { QueueArn: 'arn:sweep-dlq', ApproximateNumberOfMessages: '2', ApproximateNumberOfMessagesNotVisible: '0', ApproximateNumberOfMessagesDelayed: '0' } });
    mocks.cloudwatch.on(GetMetricDataCommand).resolves({ MetricDataResults: [{ Id: 'age', Values: [7_200], Timestamps: [new Date()] }] });
    const { byId, report } = await run();
    expect(byId['sweep-dlq']).toMatchObject({ status: 'FAIL', detail: expect.stringMatching(/^2 messages in the sweep DLQ \(oldest 2\.0 h old\)/) });
    expect(mocks.cloudwatch.commandCalls(GetMetricDataCommand)[0].args[0].input.MetricDataQueries?.[0].MetricStat?.Metric?.Dimensions).toEqual([{ Name: 'QueueName', Value: 'guard-SweepDeadLetterQueue' }]);
    expect(exitCodeOf(report.checks)).toBe(1);
  });

  it('checks re-keying\'s dead-letter queue too where re-keying is deployed', async () => {
    mocks.cloudformation.on(ListStackResourcesCommand).resolves({ StackResourceSummaries: stackResources(['ReencryptDeadLetterQueue', 'AWS::SQS::Queue', queueUrl('ReencryptDeadLetterQueue')]) });
    expect((await run()).byId['reencrypt-dlq']).toMatchObject({ status: 'PASS', detail: 'the re-keying DLQ is empty' });
  });

  it('fails the stack check, and still checks the trail and the organisation, when the stack is not deployed', async () => {
    mocks.cloudformation.on(ListStackResourcesCommand).rejects(s3Error('ValidationError', 400, { message: 'Stack with id s3-encryption-guard-prod does not exist' }));
    const { report } = await run();
    expect(report.checks.map((check) => `${check.id}:${check.status}`)).toEqual(['stack:FAIL', 'trail:PASS', 'org-controls:PASS']);
    expect(report.checks[0].detail).toContain('could not be read in eu-west-1');
  });
});

describe('the stack\'s dead-letter queues', () => {
  const resource = { type: 'AWS::SQS::Queue', physicalId: 'https://sqs/q' };
  const base = (...ids: string[]) => new Map([...DEAD_LETTER_QUEUES.map((queue) => queue.id), ...ids].map((id) => [id, resource]));

  it('are the three of every stack, plus re-keying\'s and the hub\'s sweep work queue\'s where deployed', () => {
    expect(deadLetterQueuesIn(base()).map((queue) => queue.id)).toEqual(DEAD_LETTER_QUEUES.map((queue) => queue.id));
    expect(deadLetterQueuesIn(base('SweepWorkDeadLetterQueue', 'ReencryptDeadLetterQueue')).map((queue) => queue.id))
      .toEqual([...DEAD_LETTER_QUEUES.map((queue) => queue.id), 'ReencryptDeadLetterQueue', 'SweepWorkDeadLetterQueue']);
  });
});
