/**
 * How users read the guard, as CloudFormation will deploy it: the dashboard (its body resolved as
 * CloudFormation resolves the Fn::Sub, then parsed), the saved queries, the alarms and their topic, log
 * retention and the permission to publish finding events — checked against the code (metric names and
 * dimensions, finding fields) and against the rest of the template (log groups, queues, functions).
 * Then, on the EventBridge emulator: the finding events reach a rule like the README's and never the
 * guard's own rule.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeleteRuleCommand, EventBridgeClient, PutEventsCommand, PutRuleCommand, PutTargetsCommand, RemoveTargetsCommand } from '@aws-sdk/client-eventbridge';
import { CreateQueueCommand, DeleteQueueCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { ORGANIZATION_QUERIES, SAVED_QUERIES, savedQueries } from '../../lib/dashboard';
import type { Finding } from '../../lib/finding';
import { createFindingEventPublisher, FINDING_EVENT_DETAIL_TYPE, FINDING_EVENT_SOURCE, needsAttention } from '../../lib/finding-events';
import { METRIC_DIMENSIONS, METRIC_NAMES, METRICS_NAMESPACE, ORGANIZATION_METRICS, REENCRYPT_METRICS } from '../../lib/metric-names';
import { useEmulator } from '../emulator-env';
import { captureLogLines, type LogLine, missingFields, SAMPLE_FINDINGS } from '../finding-log-lines';
import { asArray, packageService, resolveAccountSubs, SERVICE_DIR, type StagedService, stageService, targetOf, type Template, expectLintClean, expectPackaged, resourcesOfType, single } from './serverless-cli';

const CLI_TIMEOUT = 180_000;
const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const GUARD_ROLE = 'IamRoleLambdaExecution';

type Json = Record<string, any>;


/** What CloudFormation substitutes for `${Name}` / `${Name.Attribute}` in a Fn::Sub, for stage dev in us-east-1. */
const subValue = (template: Template, name: string): string => {
  if (name === 'AWS::Region') return REGION;
  if (name === 'AWS::AccountId') return ACCOUNT;
  if (name === 'AWS::Partition') return 'aws';
  const [id, attribute] = name.split('.');
  const resource = template.Resources[id];
  if (!resource) throw new Error(`Fn::Sub names ${name}, which is not a resource of the stack`);
  if (attribute === 'QueueName') return `queue:${id}`;
  if (attribute === 'Arn' && resource.Type === 'AWS::CloudWatch::Alarm') return `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${resource.Properties.AlarmName}`;
  if (attribute) throw new Error(`unexpected attribute in ${name}`);
  // Ref: a log group's name, a function's name.
  if (resource.Type === 'AWS::Logs::LogGroup') return resource.Properties.LogGroupName;
  if (resource.Type === 'AWS::Lambda::Function') return resource.Properties.FunctionName;
  throw new Error(`unexpected Ref in the dashboard: ${name} (${resource.Type})`);
};

const resolveSub = (template: Template, text: string): string =>
  text.replace(/\$\{([^}]*)\}/g, (_, name: string) => {
    if (name.startsWith('!')) return `\${${name.slice(1)}}`; // a literal "${"
    return subValue(template, name);
  });

/** Every IAM statement granted to the functions' role. */
const roleStatements = (template: Template): any[] => asArray(template.Resources[GUARD_ROLE].Properties?.Policies)
  .flatMap((policy: any) => asArray(policy.PolicyDocument?.Statement))
  .concat(Object.values(template.Resources)
    .filter((resource) => resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy')
    .filter((resource) => asArray(resource.Properties?.Roles).some((role: unknown) => targetOf(role) === GUARD_ROLE))
    .flatMap((resource) => asArray(resource.Properties?.PolicyDocument?.Statement)));

const resourceText = (resource: unknown): string =>
  typeof resource === 'string' ? resource : typeof (resource as Json)?.['Fn::Sub'] === 'string' ? (resource as Json)['Fn::Sub'] : JSON.stringify(resource);

/** The default-params template, packaged once for this file's suites (packaging takes seconds). */
let defaults: Promise<{ service: StagedService; template: Template; templatePath: string }> | undefined;
const packagedDefaults = () => {
  defaults ??= (async () => {
    const service = stageService();
    return { service, ...expectPackaged(await packageService(service)) };
  })();
  return defaults;
};
afterAll(async () => (await defaults)?.service.remove());

describe('observability in the packaged template (default params)', () => {
  let template: Template;
  let body: Json;
  let lines: LogLine[];

  beforeAll(async () => {
    ({ template } = await packagedDefaults());
    const [, dashboard] = single(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'), 'dashboard');
    body = JSON.parse(resolveSub(template, dashboard.Properties.DashboardBody['Fn::Sub'])) as Json;
    lines = await captureLogLines();
  }, CLI_TIMEOUT);

  const functions = () => resourcesOfType(template, 'AWS::Lambda::Function');
  /** POWERTOOLS_SERVICE_NAME of the functions: what Powertools puts in the `service` dimension. */
  const serviceDimension = (): string => single([...new Set(functions().map(([, fn]) => fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME as string))], 'service name');
  const widgets = (type: string): Json[] => (body.widgets as Json[]).filter((widget) => widget.type === type);
  const metricRows = (): unknown[][] => widgets('metric').flatMap((widget) => widget.properties.metrics as unknown[][]);
  const logGroupOf = (fnId: string): [string, any] => single(resourcesOfType(template, 'AWS::Logs::LogGroup')
    .filter(([, group]) => group.Properties.LogGroupName === `/aws/lambda/${template.Resources[fnId].Properties?.FunctionName}`), `log group of ${fnId}`);
  /** The dead-letter queues, found from what feeds them: the settle queue's redrive, the rule's target, the sweep's failure destination. */
  const deadLetterQueues = (): string[] => {
    const settle = resourcesOfType(template, 'AWS::SQS::Queue').map(([, queue]) => targetOf(queue.Properties?.RedrivePolicy?.deadLetterTargetArn)).filter(Boolean);
    const delivery = resourcesOfType(template, 'AWS::Events::Rule').flatMap(([, rule]) => asArray(rule.Properties?.Targets)).map((target: any) => targetOf(target.DeadLetterConfig?.Arn)).filter(Boolean);
    const sweep = resourcesOfType(template, 'AWS::Lambda::EventInvokeConfig').map(([, config]) => targetOf(config.Properties?.DestinationConfig?.OnFailure?.Destination)).filter(Boolean);
    return [...new Set([...settle, ...delivery, ...sweep] as string[])].sort();
  };
  const alarms = () => resourcesOfType(template, 'AWS::CloudWatch::Alarm');

  // cfn-lint on this same default template runs in template.test.ts.

  describe('the dashboard', () => {
    it('is named from service, stage and region: dashboards are global per account, so a stack in another region gets its own', () => {
      const [, dashboard] = single(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'), 'dashboard');
      expect(resolveSub(template, dashboard.Properties.DashboardName['Fn::Sub'])).toBe(`s3-encryption-guard-dev-${REGION}`);
    });

    it('has a body that is valid JSON once CloudFormation fills in this stack\'s names', () => {
      expect(Array.isArray(body.widgets)).toBe(true);
      for (const widget of body.widgets as Json[]) {
        expect(widget).toEqual(expect.objectContaining({ type: expect.any(String), x: expect.any(Number), y: expect.any(Number), width: expect.any(Number), height: expect.any(Number), properties: expect.any(Object) }));
        if (widget.type !== 'text') expect(widget.properties.region ?? REGION).toBe(REGION);
      }
    });

    it('charts exactly the metrics the code emits, with exactly the dimensions Powertools gives them', () => {
      const guardRows = metricRows().filter((row) => row[0] === METRICS_NAMESPACE);
      // Default params: re-keying (reencryptObjects) is off, its metrics are not charted (tests/template/reencrypt.test.ts).
      // Single-account mode: the hub's MemberAccountsUnreachable is not charted either (below).
      expect([...new Set(guardRows.map((row) => row[1]))].sort())
        .toEqual(METRIC_NAMES.filter((name) => !REENCRYPT_METRICS.includes(name) && !ORGANIZATION_METRICS.some((organization) => organization === name)).sort());
      const expectedDimensions = METRIC_DIMENSIONS.flatMap((name) => [name, serviceDimension()]);
      expect(expectedDimensions).toEqual(['service', 's3-encryption-guard']);
      for (const row of guardRows) expect(row.slice(2, 4)).toEqual(expectedDimensions);
    });

    it('shows the exposure window as p50, p90 and p99, with the sweep\'s catches beside it', () => {
      const widgetOf = (metric: string): Json => single(widgets('metric').filter((widget) => (widget.properties.metrics as unknown[][]).some((row) => row[0] === METRICS_NAMESPACE && row[1] === metric)), `widget of ${metric}`);
      for (const metric of ['DetectionLag', 'ExposureWindow']) {
        expect((widgetOf(metric).properties.metrics as unknown[][]).map((row) => (row[4] as Json).stat)).toEqual(['p50', 'p90', 'p99']);
      }
      expect(new Set(['DetectionLag', 'ExposureWindow', 'SweepCatches'].map((metric) => widgetOf(metric).y)).size).toBe(1);
    });

    it('queries the log groups of the stack\'s own functions in every log widget', () => {
      const expected = functions().map(([id]) => logGroupOf(id)[1].Properties.LogGroupName as string).sort();
      expect(expected).toEqual(['/aws/lambda/s3-encryption-guard-dev-enforceBucket', '/aws/lambda/s3-encryption-guard-dev-sweepBuckets']);
      expect(widgets('log').length).toBe(SAVED_QUERIES.length);
      for (const widget of widgets('log')) {
        const sources = [...(widget.properties.query as string).matchAll(/SOURCE '([^']+)'/g)].map((match) => match[1]).sort();
        expect(sources).toEqual(expected);
      }
    });

    it('runs the saved queries in its log widgets, reading only fields the findings\' log lines have', () => {
      const queries = widgets('log').map((widget) => (widget.properties.query as string).replace(/^(SOURCE '[^']+' \| )+/, ''));
      expect(queries).toEqual(SAVED_QUERIES.map((query) => query.query));
      for (const query of queries) expect(missingFields(query, lines)).toEqual([]);
    });

    it('shows the depth and age of every dead-letter queue and of the settle queue', () => {
      expect(deadLetterQueues()).toEqual(['DeliveryDeadLetterQueue', 'SettleDeadLetterQueue', 'SweepDeadLetterQueue']);
      const sqsRows = metricRows().filter((row) => row[0] === 'AWS/SQS');
      for (const queue of [...deadLetterQueues(), 'SettleQueue']) {
        const metrics = sqsRows.filter((row) => row[2] === 'QueueName' && row[3] === `queue:${queue}`).map((row) => row[1]);
        expect(metrics).toEqual(expect.arrayContaining(['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage']));
      }
    });

    it('shows the errors and duration of every function', () => {
      const lambdaRows = metricRows().filter((row) => row[0] === 'AWS/Lambda');
      for (const [, fn] of functions()) {
        const metrics = lambdaRows.filter((row) => row[2] === 'FunctionName' && row[3] === fn.Properties.FunctionName).map((row) => row[1]);
        expect(metrics).toEqual(expect.arrayContaining(['Errors', 'Duration']));
      }
    });

    it('shows the state of every alarm of the stack', () => {
      const shown = widgets('alarm').flatMap((widget) => widget.properties.alarms as string[]).sort();
      expect(shown).toEqual(alarms().map(([, alarm]) => `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarm.Properties.AlarmName}`).sort());
    });
  });

  describe('the saved Logs Insights queries', () => {
    it('are the dashboard\'s queries, over both functions\' log groups, in a folder named after the stack', () => {
      const definitions = resourcesOfType(template, 'AWS::Logs::QueryDefinition').map(([, definition]) => definition.Properties);
      expect(definitions.map((definition) => definition.QueryString)).toEqual(SAVED_QUERIES.map((query) => query.query));
      expect(definitions.map((definition) => definition.Name)).toEqual(SAVED_QUERIES.map((query) => `s3-encryption-guard-dev/${query.title}`));
      const groups = functions().map(([id]) => logGroupOf(id)[0]).sort();
      for (const definition of definitions) expect(asArray(definition.LogGroupNames).map(targetOf).sort()).toEqual(groups);
    });
  });

  describe('the alarms', () => {
    const topic = () => single(resourcesOfType(template, 'AWS::SNS::Topic'), 'SNS topic')[0];
    const notifying = () => alarms().filter(([, alarm]) => asArray(alarm.Properties.AlarmActions).some((action) => targetOf(action) === topic()));

    it('all notify the SNS topic, on the first datapoint, and stay quiet without data', () => {
      expect(alarms().length).toBeGreaterThan(0);
      expect(notifying().length).toBe(alarms().length);
      for (const [, alarm] of alarms()) expect(alarm.Properties).toMatchObject({ EvaluationPeriods: 1, DatapointsToAlarm: 1, TreatMissingData: 'notBreaching' });
      // Counts fire on any occurrence; the exposure alarm on a duration (below).
      for (const [, alarm] of alarms().filter(([, candidate]) => candidate.Properties.MetricName !== 'ExposureWindow')) {
        expect(alarm.Properties).toMatchObject({ Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      }
    });

    it('fire when the p99 exposure window exceeds exposureAlarmSeconds (default 900 s)', () => {
      const alarm = guardMetricAlarm('ExposureWindow');
      expect(alarm.Properties).toMatchObject({ ExtendedStatistic: 'p99', Threshold: 900_000, ComparisonOperator: 'GreaterThanThreshold', Period: 300 });
      expect(alarm.Properties).not.toHaveProperty('Statistic');
      expect(alarm.Properties.Dimensions).toEqual(METRIC_DIMENSIONS.map((name) => ({ Name: name, Value: serviceDimension() })));
    });

    const guardMetricAlarm = (metric: string): any => single(alarms().filter(([, alarm]) => alarm.Properties.Namespace === METRICS_NAMESPACE && alarm.Properties.MetricName === metric), `alarm on ${metric}`)[1];

    it.each(['RemediationsFailed', 'ForeignOrUnusableKeyBuckets'] as const)('fire on any %s, with the metric\'s own dimensions', (metric) => {
      expect(METRIC_NAMES).toContain(metric);
      const alarm = guardMetricAlarm(metric);
      expect(alarm.Properties.Dimensions).toEqual(METRIC_DIMENSIONS.map((name) => ({ Name: name, Value: serviceDimension() })));
      expect(alarm.Properties.Statistic).toBe('Sum');
    });

    it('fire on any message in each dead-letter queue', () => {
      const watched = alarms().filter(([, alarm]) => alarm.Properties.Namespace === 'AWS/SQS' && alarm.Properties.MetricName === 'ApproximateNumberOfMessagesVisible')
        .map(([, alarm]) => single(asArray(alarm.Properties.Dimensions), 'queue dimension') as any)
        .map((dimension) => { expect(dimension.Name).toBe('QueueName'); return targetOf(dimension.Value) as string; });
      expect(watched.sort()).toEqual(deadLetterQueues());
    });

    it('fire on errors of each function', () => {
      const watched = alarms().filter(([, alarm]) => alarm.Properties.Namespace === 'AWS/Lambda' && alarm.Properties.MetricName === 'Errors')
        .map(([, alarm]) => targetOf((single(asArray(alarm.Properties.Dimensions), 'function dimension') as any).Value));
      expect(watched.sort()).toEqual(functions().map(([id]) => id).sort());
    });

    it('have no alarm on MemberAccountsUnreachable outside hub mode', () => {
      expect(alarms().filter(([, alarm]) => alarm.Properties.MetricName === 'MemberAccountsUnreachable')).toEqual([]);
    });

    it('have no email subscription unless alarmEmail is set', () => {
      expect(resourcesOfType(template, 'AWS::SNS::Subscription')).toEqual([]);
    });
  });

  it('keeps both functions\' logs logRetentionDays (default 90) days', () => {
    for (const [id] of functions()) expect(logGroupOf(id)[1].Properties.RetentionInDays).toBe(90);
  });

  it('lets the functions publish events to the default bus of their region, and nowhere else', () => {
    const eventStatements = roleStatements(template).filter((statement) => asArray<string>(statement.Action).some((action) => action.startsWith('events:')));
    const statement = single(eventStatements, 'statement with events: actions');
    expect(asArray(statement.Action)).toEqual(['events:PutEvents']);
    expect(asArray(statement.Resource).map(resourceText)).toEqual(['arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default']);
  });
});

describe('observability with other params', () => {
  let service: StagedService;
  beforeAll(() => { service = stageService(); });
  afterAll(() => service?.remove());

  it('with alarmEmail subscribes that address to the alarm topic, keeps logs logRetentionDays days, alarms at exposureAlarmSeconds, and still passes cfn-lint', async () => {
    const { template, templatePath } = expectPackaged(await packageService(service, { alarmEmail: 'security-team@example.com', logRetentionDays: '30', exposureAlarmSeconds: '300' }));
    const [, exposure] = single(resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter(([, alarm]) => alarm.Properties.MetricName === 'ExposureWindow'), 'exposure alarm');
    expect(exposure.Properties.Threshold).toBe(300_000);
    const [topicId] = single(resourcesOfType(template, 'AWS::SNS::Topic'), 'SNS topic');
    const [, subscription] = single(resourcesOfType(template, 'AWS::SNS::Subscription'), 'subscription');
    expect(subscription.Properties).toEqual({ TopicArn: { Ref: topicId }, Protocol: 'email', Endpoint: 'security-team@example.com' });
    for (const [, group] of resourcesOfType(template, 'AWS::Logs::LogGroup')) expect(group.Properties.RetentionInDays).toBe(30);
    expectLintClean(templatePath);
  }, CLI_TIMEOUT);

  it('refuses an exposureAlarmSeconds within the settle delay (the alarm would always fire), naming the param', async () => {
    const packaged = await packageService(service, { exposureAlarmSeconds: '60', settleSeconds: '60' });
    expect(packaged.result.status).not.toBe(0);
    expect(`${packaged.result.stdout}${packaged.result.stderr}`).toMatch(/exposureAlarmSeconds \(param exposureAlarmSeconds\) must be more than settleSeconds \(60\)/);
  }, CLI_TIMEOUT);

  it('refuses an alarmEmail that is not one address, naming the param', async () => {
    const packaged = await packageService(service, { alarmEmail: 'a@example.com,b@example.com' });
    expect(packaged.result.status).not.toBe(0);
    expect(`${packaged.result.stdout}${packaged.result.stderr}`).toMatch(/alarmEmail/);
  }, CLI_TIMEOUT);
});

describe('observability of the organisation hub (organization=hub)', () => {
  let service: StagedService;
  let template: Template;
  let templatePath: string;
  let body: Json;
  let lines: LogLine[];

  beforeAll(async () => {
    service = stageService();
    ({ template, templatePath } = expectPackaged(await packageService(service, { organization: 'hub', organizationId: 'o-a1b2c3d4e5' })));
    const [, dashboard] = single(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'), 'dashboard');
    body = JSON.parse(resolveSub(template, dashboard.Properties.DashboardBody['Fn::Sub'])) as Json;
    lines = await captureLogLines();
  }, CLI_TIMEOUT);
  afterAll(() => service?.remove());

  /** The log group names of every function the hub's template deploys (sweepWorker's too, where serverless.yml declares it). */
  const functionLogGroups = (): string[] => resourcesOfType(template, 'AWS::Lambda::Function')
    .map(([, fn]) => `/aws/lambda/${fn.Properties.FunctionName}`).sort();
  const logWidgets = (): Json[] => (body.widgets as Json[]).filter((widget) => widget.type === 'log');

  it('passes cfn-lint and keeps the dashboard name <service>-<stage>-<region>', () => {
    expectLintClean(templatePath);
    const [, dashboard] = single(resourcesOfType(template, 'AWS::CloudWatch::Dashboard'), 'dashboard');
    expect(resolveSub(template, dashboard.Properties.DashboardName['Fn::Sub'])).toBe(`s3-encryption-guard-dev-${REGION}`);
  });

  it('shows the per-account view: top non-compliant accounts, findings per account and region, unreachable member accounts', () => {
    const titles = logWidgets().map((widget) => widget.properties.title as string);
    expect(titles).toEqual(expect.arrayContaining(['Top non-compliant accounts', 'Findings per account and region', 'Unreachable member accounts']));
    expect(titles).toHaveLength(SAVED_QUERIES.length + ORGANIZATION_QUERIES.length);
  });

  it('reads every function\'s log group in every log widget, with queries that read only fields the findings\' log lines have', () => {
    expect(functionLogGroups()).toEqual(expect.arrayContaining(['/aws/lambda/s3-encryption-guard-dev-enforceBucket', '/aws/lambda/s3-encryption-guard-dev-sweepBuckets']));
    for (const widget of logWidgets()) {
      const query = widget.properties.query as string;
      expect([...query.matchAll(/SOURCE '([^']+)'/g)].map((match) => match[1]).sort()).toEqual(functionLogGroups());
      expect(missingFields(query.replace(/^(SOURCE '[^']+' \| )+/, ''), lines)).toEqual([]);
    }
  });

  it('saves every query, the per-account ones too, over every function\'s log group', () => {
    const definitions = resourcesOfType(template, 'AWS::Logs::QueryDefinition').map(([, definition]) => definition.Properties);
    expect(definitions.map((definition) => definition.QueryString)).toEqual(savedQueries(true).map((query) => query.query));
    const logGroupIds = resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id.replace(/LambdaFunction$/, 'LogGroup')).sort();
    for (const definition of definitions) expect(asArray(definition.LogGroupNames).map(targetOf).sort()).toEqual(logGroupIds);
  });

  it('charts MemberAccountsUnreachable and alarms on any of it, with the `service` dimension only (never an account)', () => {
    const serviceName = single([...new Set(resourcesOfType(template, 'AWS::Lambda::Function').map(([, fn]) => fn.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME as string))], 'service name');
    const rows = (body.widgets as Json[]).filter((widget) => widget.type === 'metric').flatMap((widget) => widget.properties.metrics as unknown[][])
      .filter((row) => row[0] === METRICS_NAMESPACE && row[1] === 'MemberAccountsUnreachable');
    expect(rows).toEqual([[METRICS_NAMESPACE, 'MemberAccountsUnreachable', 'service', serviceName]]);
    const [, alarm] = single(resourcesOfType(template, 'AWS::CloudWatch::Alarm').filter(([, candidate]) => candidate.Properties.MetricName === 'MemberAccountsUnreachable'), 'alarm on MemberAccountsUnreachable');
    expect(alarm.Properties).toMatchObject({
      Namespace: METRICS_NAMESPACE, Statistic: 'Sum', Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      Dimensions: METRIC_DIMENSIONS.map((name) => ({ Name: name, Value: serviceName })),
    });
    expect(alarm.Properties.AlarmDescription).toMatch(/spoke StackSet/);
  });

  it('alarms on errors of every function and shows the state of every alarm', () => {
    const alarms = resourcesOfType(template, 'AWS::CloudWatch::Alarm');
    const watched = alarms.filter(([, alarm]) => alarm.Properties.Namespace === 'AWS/Lambda' && alarm.Properties.MetricName === 'Errors')
      .map(([, alarm]) => targetOf((single(asArray(alarm.Properties.Dimensions), 'function dimension') as any).Value)).sort();
    expect(watched).toEqual(resourcesOfType(template, 'AWS::Lambda::Function').map(([id]) => id).sort());
    const shown = (body.widgets as Json[]).filter((widget) => widget.type === 'alarm').flatMap((widget) => widget.properties.alarms as string[]).sort();
    expect(shown).toEqual(alarms.map(([, alarm]) => `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarm.Properties.AlarmName}`).sort());
  });
});

/** The README's example rule for finding events: its first JSON block that names the detail-type. */
const readmeRulePattern = (): Json => {
  const readme = readFileSync(join(SERVICE_DIR, 'README.md'), 'utf8');
  const block = [...readme.matchAll(/```json\n([\s\S]*?)```/g)].map((match) => match[1]).find((text) => text.includes(`"${FINDING_EVENT_DETAIL_TYPE}"`));
  if (!block) throw new Error('README.md shows no JSON event pattern for finding events');
  return JSON.parse(block) as Json;
};

describe('finding events on EventBridge (moto)', () => {
  const suffix = Math.random().toString(36).slice(2, 10);
  let events: EventBridgeClient;
  let sqs: SQSClient;
  const rules: Array<{ label: string; name: string; queueUrl: string }> = [];
  const received: Record<string, Json[]> = {};

  /** A rule with the given pattern delivering to a fresh queue. */
  const ruleToQueue = async (label: string, pattern: unknown): Promise<void> => {
    const name = `guard-${label}-${suffix}`;
    const { QueueUrl: queueUrl = '' } = await sqs.send(new CreateQueueCommand({ QueueName: name }));
    const { Attributes } = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
    await events.send(new PutRuleCommand({ Name: name, EventPattern: JSON.stringify(pattern), State: 'ENABLED' }));
    await events.send(new PutTargetsCommand({ Rule: name, Targets: [{ Id: 'queue', Arn: Attributes?.QueueArn }] }));
    rules.push({ label, name, queueUrl });
    received[label] = [];
  };

  const drain = async (label: string, queueUrl: string): Promise<void> => {
    for (let empty = 0; empty < 2;) {
      const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0 }));
      if (Messages.length === 0) empty += 1;
      for (const message of Messages) received[label].push(JSON.parse(message.Body ?? '{}') as Json);
    }
  };

  /** One finding per verdict/action the guard produces. */
  const findings: Finding[] = [
    ...SAMPLE_FINDINGS,
    { ...SAMPLE_FINDINGS[0], bucket: 'dry-run-data', action: 'WOULD_REMEDIATE', after: undefined },
    { ...SAMPLE_FINDINGS[3], bucket: 'exempt-data', verdict: 'EXEMPT', exemptReason: 'tag encryption-guard:exempt=true' },
  ];

  beforeAll(async () => {
    const { template } = await packagedDefaults();
    const [, rule] = single(resourcesOfType(template, 'AWS::Events::Rule').filter(([, candidate]) => asArray(candidate.Properties?.EventPattern?.source).includes('aws.s3')), 'rule on aws.s3 events');
    // The guard roles' ARN prefix, as CloudFormation would fill it in.
    const guardPattern = resolveAccountSubs(rule.Properties.EventPattern, ACCOUNT);
    const endpoint = useEmulator();
    const clientConfig = { endpoint, region: REGION, credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } };
    events = new EventBridgeClient(clientConfig);
    sqs = new SQSClient(clientConfig);
    await ruleToQueue('guard-rule', guardPattern);
    await ruleToQueue('readme-rule', readmeRulePattern());
    await ruleToQueue('all-findings', { source: [FINDING_EVENT_SOURCE], 'detail-type': [FINDING_EVENT_DETAIL_TYPE] });

    // The guard's publisher, as the functions run it, against the emulator.
    const errors: unknown[] = [];
    const publisher = createFindingEventPublisher(() => events, { error: (message, details) => errors.push({ message, details }) });
    for (const finding of findings) publisher.add(finding);
    await publisher.flush();
    if (errors.length) throw new Error(`publishing failed: ${JSON.stringify(errors)}`);
    // Control: a CloudTrail event the guard's rule does take, so its silence about findings means something.
    const control = JSON.parse(readFileSync(join(SERVICE_DIR, 'events', 'create-bucket.json'), 'utf8')) as Json;
    await events.send(new PutEventsCommand({ Entries: [{ Source: control.source, DetailType: control['detail-type'], Detail: JSON.stringify(control.detail), Resources: control.resources }] }));

    for (const { label, queueUrl } of rules) await drain(label, queueUrl);
  }, CLI_TIMEOUT);

  afterAll(async () => {
    for (const { name, queueUrl } of rules) {
      await events?.send(new RemoveTargetsCommand({ Rule: name, Ids: ['queue'] })).catch(() => undefined);
      await events?.send(new DeleteRuleCommand({ Name: name })).catch(() => undefined);
      await sqs?.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
    }
    events?.destroy();
    sqs?.destroy();
  });

  it('reach a rule on source s3-encryption-guard and detail-type "Bucket Encryption Finding": one per finding that needs attention, detail = the finding', () => {
    const expected = findings.filter(needsAttention);
    expect(expected.length).toBeGreaterThanOrEqual(4);
    expect(received['all-findings'].map((event) => event.detail).sort((a, b) => a.bucket.localeCompare(b.bucket)))
      .toEqual(JSON.parse(JSON.stringify(expected)).sort((a: Finding, b: Finding) => a.bucket.localeCompare(b.bucket)));
    for (const event of received['all-findings']) expect(event).toMatchObject({ source: FINDING_EVENT_SOURCE, 'detail-type': FINDING_EVENT_DETAIL_TYPE });
  });

  it('reach the README\'s example rule as it says (failures only)', () => {
    const pattern = readmeRulePattern();
    expect(pattern).toMatchObject({ source: [FINDING_EVENT_SOURCE], 'detail-type': [FINDING_EVENT_DETAIL_TYPE] });
    const verdicts = asArray<string>(pattern.detail?.verdict);
    expect(verdicts.length).toBeGreaterThan(0);
    const expected = findings.filter((finding) => needsAttention(finding) && verdicts.includes(finding.verdict)).map((finding) => finding.bucket).sort();
    expect(expected.length).toBeGreaterThan(0);
    expect(received['readme-rule'].map((event) => event.detail.bucket).sort()).toEqual(expected);
  });

  it('never match the guard\'s own rule (a different source), which still takes CloudTrail events', () => {
    expect(received['guard-rule'].map((event) => event.source)).toEqual(['aws.s3']);
  });
});
