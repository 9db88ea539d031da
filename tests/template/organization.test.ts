/**
 * The hub as packaged with organization=hub: cfn-lint clean; the hub bus, whose policy admits the
 * organisation or the listed accounts and nothing else; its rule, the single-account rule's pattern, into the
 * settle queue; the sweep's fan-out queue and worker; the right to assume the member role; the outputs the
 * spokes take. (organization=off deploys none of it: template.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { GUARD_ROLE_PATH } from '../../lib/organization/names';
import { SPOKE_PATH } from '../../scripts/build-spoke';
import { type Request, statementApplies } from '../unit/iam-evaluator';
import { actionsOf, asArray, expectLintClean, expectPackaged, packageService, resourcesOfType, roleStatements, single, type StagedService, stageService, targetOf, type Template } from './serverless-cli';

type Json = Record<string, any>;
const CLI_TIMEOUT = 180_000;
const ORG = 'o-a1b2c3d4e5';
const OTHER_ORG = 'o-zzzzzzzzzz';
const LISTED = ['111122223333', '444455556666'];
const HUB_ROLES = ['IamRoleLambdaExecution', 'SweepBucketsRole', 'SweepWorkerRole'];
const BUS_ARN = 'arn:aws:events:us-east-1:123456789012:event-bus/s3-encryption-guard-dev-hub';

/** A bus policy statement with its Fn::GetAtt and Fn::Sub filled in as CloudFormation would in the hub account. */
const resolved = (statement: Json): Json => JSON.parse(JSON.stringify(statement)
  .replace('{"Fn::GetAtt":["HubEventBus","Arn"]}', `"${BUS_ARN}"`)
  .replace(/\{"Fn::Sub":"arn:\$\{AWS::Partition\}:iam::(\d{12}):root"\}/g, '"arn:aws:iam::$1:root"')) as Json;

/** A spoke's rule role putting an event on the hub bus. */
const putEvents = (account: string, orgId?: string): Request => ({
  principal: { type: 'AWS', id: `arn:aws:sts::${account}:assumed-role/s3-encryption-guard/spoke-ForwardBucketEventsRole-X/session` },
  action: 'events:PutEvents',
  resource: BUS_ARN,
  context: { 'aws:PrincipalAccount': account, ...(orgId ? { 'aws:PrincipalOrgID': orgId } : {}) },
});

const busStatement = (template: Template): Json => {
  const [, policy] = single(resourcesOfType(template, 'AWS::Events::EventBusPolicy'), 'bus policy');
  expect(targetOf(policy.Properties.EventBusName)).toBe('HubEventBus');
  return resolved(policy.Properties.Statement);
};
const admits = (template: Template, request: Request): boolean => statementApplies(busStatement(template) as never, request);
const assumable = (template: Template, role: string): unknown[] =>
  roleStatements(template, role).filter((statement) => asArray(statement.Action).includes('sts:AssumeRole')).flatMap((statement) => asArray(statement.Resource));

describe('packaged hub (organization=hub, organizationId)', () => {
  let service: StagedService;
  let template: Template;
  let templatePath: string;

  beforeAll(async () => {
    service = stageService();
    ({ template, templatePath } = expectPackaged(await packageService(service, { organization: 'hub', organizationId: ORG })));
  }, CLI_TIMEOUT);
  afterAll(() => service?.remove());

  const fnByHandler = (handler: string): [string, Json] =>
    single(resourcesOfType(template, 'AWS::Lambda::Function').filter(([, fn]) => fn.Properties.Handler === handler), handler);

  it('passes cfn-lint', () => {
    expectLintClean(templatePath);
  }, 120_000);

  it('has the hub bus, named for the service and stage', () => {
    expect(template.Resources.HubEventBus).toEqual({ Type: 'AWS::Events::EventBus', Properties: { Name: 's3-encryption-guard-dev-hub' } });
  });

  it('lets the organisation put events on the bus, and nothing else', () => {
    expect(busStatement(template)).toEqual({
      Effect: 'Allow', Principal: '*', Action: 'events:PutEvents', Resource: BUS_ARN, Condition: { StringEquals: { 'aws:PrincipalOrgID': ORG } },
    });
    expect(admits(template, putEvents('111122223333', ORG))).toBe(true);
    expect(admits(template, putEvents('111122223333', OTHER_ORG))).toBe(false);
    expect(admits(template, putEvents('999988887777'))).toBe(false);
    expect(admits(template, { ...putEvents('111122223333', ORG), action: 'events:PutRule' })).toBe(false);
  });

  it('hands the bus\'s events to the settle queue with the single-account rule\'s pattern, dead-letter queue and retries — and the settle queue admits both rules', () => {
    const hubRule = template.Resources.HubBucketEventsRule.Properties;
    const rule = template.Resources.BucketEventsRule.Properties;
    expect(targetOf(hubRule.EventBusName)).toBe('HubEventBus');
    expect(hubRule.EventPattern).toEqual(rule.EventPattern);
    expect(hubRule.Targets).toEqual(rule.Targets);
    const [grant] = template.Resources.EventDeliveryQueuePolicy.Properties.PolicyDocument.Statement;
    expect(asArray(grant.Condition.ArnEquals['aws:SourceArn']).map(targetOf).sort()).toEqual(['BucketEventsRule', 'HubBucketEventsRule']);
  });

  it('fans the sweep out through an encrypted work queue, with a dead-letter queue, feeding sweepWorker one message at a time', () => {
    const [workerId, worker] = fnByHandler('handlers/sweep-worker.handler');
    expect(worker.Properties).toMatchObject({ Timeout: 900, MemorySize: 512, RecursiveLoop: 'Terminate' });
    expect(targetOf(worker.Properties.Role)).toBe('SweepWorkerRole');
    const [, mapping] = single(resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(([, m]) => targetOf(m.Properties.FunctionName) === workerId), 'its event source');
    expect(mapping.Properties).toMatchObject({ BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    const queueId = targetOf(mapping.Properties.EventSourceArn) as string;
    const queue = template.Resources[queueId].Properties;
    expect(queue).toMatchObject({ QueueName: 's3-encryption-guard-dev-sweep-work', SqsManagedSseEnabled: true });
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * worker.Properties.Timeout);
    expect(template.Resources[targetOf(queue.RedrivePolicy.deadLetterTargetArn) as string].Properties).toMatchObject({ SqsManagedSseEnabled: true });
    for (const [, fn] of resourcesOfType(template, 'AWS::Lambda::Function')) expect(fn.Properties.Environment.Variables.SWEEP_WORK_QUEUE_NAME).toBe(queue.QueueName);
    // Messages that kept failing land in its dead-letter queue, which alarms like the others.
    const deadLetterQueue = targetOf(queue.RedrivePolicy.deadLetterTargetArn) as string;
    expect(resourcesOfType(template, 'AWS::CloudWatch::Alarm').some(([, alarm]) => JSON.stringify(alarm.Properties.Dimensions ?? []).includes(deadLetterQueue))).toBe(true);
  });

  it('lets only sweepWorker receive from the work queue; sweepBuckets and sweepWorker send to it; every function may list the organisation\'s accounts', () => {
    const receivers = resourcesOfType(template, 'AWS::IAM::Role').map(([id]) => id)
      .filter((role) => roleStatements(template, role).some((statement) => asArray(statement.Action).includes('sqs:ReceiveMessage') && targetOf(statement.Resource) === 'SweepWorkQueue'));
    expect(receivers).toEqual(['SweepWorkerRole']);
    for (const role of ['SweepBucketsRole', 'SweepWorkerRole']) {
      expect(roleStatements(template, role).some((statement) => asArray(statement.Action).includes('sqs:SendMessage') && targetOf(statement.Resource) === 'SweepWorkQueue')).toBe(true);
    }
    // Without memberAccounts every function checks accounts against the organisation's list (lib/organization/scope.ts).
    for (const role of HUB_ROLES) expect(actionsOf(template, role).filter((action) => action.startsWith('organizations:'))).toEqual(['organizations:ListAccounts']);
  });

  it('starts no Lambda-to-Lambda chain: sweepBuckets may not invoke itself, and Lambda\'s loop detection stays on', () => {
    const [, sweep] = fnByHandler('handlers/sweep.handler');
    expect(sweep.Properties.RecursiveLoop).toBe('Terminate');
    for (const [role] of resourcesOfType(template, 'AWS::IAM::Role')) expect(actionsOf(template, role)).not.toContain('lambda:InvokeFunction');
  });

  it('lets the three function roles, all at the guard path, assume the member role of any account (scope is checked at run time)', () => {
    for (const role of HUB_ROLES) {
      expect(template.Resources[role].Properties.Path).toBe(GUARD_ROLE_PATH);
      expect(assumable(template, role)).toEqual([{ 'Fn::Sub': `arn:\${AWS::Partition}:iam::*:role${GUARD_ROLE_PATH}s3-encryption-guard-member` }]);
    }
  });

  it('gives sweepWorker the evaluation\'s statements (as enforceBucket\'s role) plus listing buckets and the warning memory', () => {
    // serverless writes every Action of its role as a list.
    const normalized = (role: string) => roleStatements(template, role).map((statement) => ({ ...statement, Action: asArray(statement.Action) }));
    const enforce = normalized('IamRoleLambdaExecution').filter((statement) => statement.Action.some((action: string) => /^(s3|kms|dynamodb|events):/.test(action)));
    expect(enforce.length).toBeGreaterThanOrEqual(5);
    expect(normalized('SweepWorkerRole')).toEqual(expect.arrayContaining(enforce));
    // PutItem: the sweep's progress markers (lib/organization/sweep-progress.ts, TransactWriteItems).
    expect(actionsOf(template, 'SweepWorkerRole')).toEqual(expect.arrayContaining(['s3:ListAllMyBuckets', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:PutItem']));
  });

  it('gives each member role exactly the bucket and key permissions of the hub\'s sweepWorker (deploy/spoke.yml)', () => {
    const spoke = load(readFileSync(SPOKE_PATH, 'utf8')) as Json;
    const member = spoke.Resources.MemberRole.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement)
      .flatMap((statement: Json) => asArray<string>(statement['Fn::If']?.[1].Action ?? statement.Action));
    const bucketAndKey = (actions: string[]) => [...new Set(actions.filter((action) => /^(s3|kms):/.test(action)))].sort();
    expect(bucketAndKey(member)).toEqual(bucketAndKey(actionsOf(template, 'SweepWorkerRole')));
    expect(bucketAndKey(member)).toEqual(bucketAndKey([...actionsOf(template, 'IamRoleLambdaExecution'), 's3:ListAllMyBuckets']));
  });

  it('outputs the bus ARN and the three function roles\' ARNs, the spokes\' parameters', () => {
    const outputs = (template as Json).Outputs;
    expect(outputs.HubEventBusArn.Value).toEqual({ 'Fn::GetAtt': ['HubEventBus', 'Arn'] });
    expect(outputs.HubRoleArns.Value).toEqual({ 'Fn::Join': [',', HUB_ROLES.map((role) => ({ 'Fn::GetAtt': [role, 'Arn'] }))] });
    // Each named, so its ARN — which every member role's trust lists — survives the role's re-creation.
    expect(HUB_ROLES.map((role) => JSON.stringify(template.Resources[role].Properties.RoleName))).toEqual([
      JSON.stringify({ 'Fn::Join': ['-', ['s3-encryption-guard', 'dev', { Ref: 'AWS::Region' }, 'lambdaRole']] }), expect.stringContaining('s3-encryption-guard-dev-us-east-1-sweepBuckets'),
      expect.stringMatching(/s3-encryption-guard-dev-\$\{AWS::Region\}-sweepWorker/),
    ]);
    expect(resourcesOfType(template, 'AWS::Lambda::Function').map(([, fn]) => targetOf(fn.Properties.Role)).sort()).toEqual([...HUB_ROLES].sort());
  });
});

describe('packaged hub with listed accounts', () => {
  let service: StagedService;
  beforeAll(() => { service = stageService(); });
  afterAll(() => service?.remove());

  it('without an organisation: lets the listed accounts put events, and nothing else; assumes only their member roles; lists no accounts', async () => {
    const { template } = expectPackaged(await packageService(service, { organization: 'hub', memberAccounts: LISTED.join(',') }));
    expect(busStatement(template)).toEqual({ Effect: 'Allow', Principal: { AWS: LISTED.map((account) => `arn:aws:iam::${account}:root`) }, Action: 'events:PutEvents', Resource: BUS_ARN });
    for (const account of LISTED) expect(admits(template, putEvents(account))).toBe(true);
    expect(admits(template, putEvents('999988887777', ORG))).toBe(false);
    for (const role of HUB_ROLES) {
      expect(assumable(template, role)).toEqual(LISTED.map((account) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::${account}:role${GUARD_ROLE_PATH}s3-encryption-guard-member` })));
    }
    for (const role of HUB_ROLES) expect(actionsOf(template, role)).not.toContain('organizations:ListAccounts');
  }, CLI_TIMEOUT);

  it('with an organisation too: an account must be both listed and of the organisation', async () => {
    const { template } = expectPackaged(await packageService(service, { organization: 'hub', memberAccounts: LISTED.join(','), organizationId: ORG }));
    expect(admits(template, putEvents(LISTED[0], ORG))).toBe(true);
    expect(admits(template, putEvents(LISTED[0], OTHER_ORG))).toBe(false);
    expect(admits(template, putEvents(LISTED[0]))).toBe(false);
    expect(admits(template, putEvents('999988887777', ORG))).toBe(false);
  }, CLI_TIMEOUT);
});
