/**
 * Deploy time only (never bundled into a function): the CloudFormation resources through which users
 * read the guard — the dashboard, the saved Logs Insights queries, the alarms and their SNS topic.
 * resources/observability.cjs calls it while `serverless package` resolves serverless.yml.
 *
 * The dashboard body is one `Fn::Sub` string, so CloudFormation fills in the region, the log group, queue
 * and function names, and the alarm ARNs of this very stack.
 */
import { dashboardBody, EXPOSURE_PERCENTILES, metricDimensions, savedQueries } from './dashboard';
import { METRICS_NAMESPACE, type MetricName } from './metric-names';
import { GUARD_ROLE_PATH, MEMBER_ROLE_UNAVAILABLE } from './organization/names';

/** Logical ids serverless gives the functions and their log groups (function name, first letter upper-cased). */
export const FUNCTIONS = [
  { name: 'enforceBucket', functionId: 'EnforceBucketLambdaFunction', logGroupId: 'EnforceBucketLogGroup' },
  { name: 'sweepBuckets', functionId: 'SweepBucketsLambdaFunction', logGroupId: 'SweepBucketsLogGroup' },
] as const;

/** Queues of serverless.yml's resources. */
export const SETTLE_QUEUE = { id: 'SettleQueue', label: 'settle queue' } as const;
export const DEAD_LETTER_QUEUES = [
  { id: 'SettleDeadLetterQueue', label: 'settle DLQ', alarm: 'settle-dlq', means: 'events whose evaluation kept failing (throttling, 5xx) after the settle queue\'s retries' },
  { id: 'DeliveryDeadLetterQueue', label: 'delivery DLQ', alarm: 'delivery-dlq', means: 'CloudTrail events EventBridge could not deliver to the settle queue' },
  { id: 'SweepDeadLetterQueue', label: 'sweep DLQ', alarm: 'sweep-dlq', means: 'sweep runs that failed after Lambda\'s retries, with the state to resume from' },
] as const;

/** Deployed only with the reencryptObjects param on (resources/reencrypt.cjs). */
export const REENCRYPT_FUNCTION = { name: 'reencryptObjects', functionId: 'ReencryptObjectsLambdaFunction', logGroupId: 'ReencryptObjectsLogGroup' } as const;
export const REENCRYPT_DEAD_LETTER_QUEUE = {
  id: 'ReencryptDeadLetterQueue', label: 're-keying DLQ', alarm: 'reencrypt-dlq', means: 'bucket listing pages whose re-keying kept failing (throttling, 5xx) after the queue\'s retries',
} as const;

/** Deployed only on the organisation hub (param organization=hub): fed by the sweep's per-account and per-page messages. */
export const SWEEP_WORKER_FUNCTION = { name: 'sweepWorker', functionId: 'SweepWorkerLambdaFunction', logGroupId: 'SweepWorkerLogGroup' } as const;
export const SWEEP_WORK_DEAD_LETTER_QUEUE = {
  id: 'SweepWorkDeadLetterQueue', label: 'sweep work DLQ', alarm: 'sweep-work-dlq', means: 'organisation sweep messages (an account to list, a page to evaluate) that kept failing after the queue\'s retries',
} as const;

/** What of the optional parts a stack deploys: the dashboard, queries and alarms cover exactly that. */
export interface Deployment {
  /** Re-keying existing objects (reencryptObjects is not off). */
  reencrypt: boolean;
  /** The organisation hub (organization=hub): the per-account view and the unreachable-accounts alarm. */
  organization: boolean;
  /** The hub's sweepWorker function: its log group is read, its errors alarmed. */
  sweepWorker: boolean;
}
const SINGLE_ACCOUNT: Deployment = { reencrypt: false, organization: false, sweepWorker: false };

const functionsOf = ({ reencrypt, sweepWorker }: Deployment) =>
  [...FUNCTIONS, ...(reencrypt ? [REENCRYPT_FUNCTION] : []), ...(sweepWorker ? [SWEEP_WORKER_FUNCTION] : [])];
const deadLetterQueuesOf = ({ reencrypt, sweepWorker }: Deployment) =>
  [...DEAD_LETTER_QUEUES, ...(reencrypt ? [REENCRYPT_DEAD_LETTER_QUEUE] : []), ...(sweepWorker ? [SWEEP_WORK_DEAD_LETTER_QUEUE] : [])];

export const DASHBOARD_ID = 'GuardDashboard';
export const ALARM_TOPIC_ID = 'AlarmTopic';
export const ALARM_EMAIL_SUBSCRIPTION_ID = 'AlarmEmailSubscription';

export interface ObservabilityParams {
  service: string;
  stage: string;
  /** POWERTOOLS_SERVICE_NAME of the functions: the value of the metrics' `service` dimension. */
  serviceName: string;
  /** Optional: an address subscribed to the alarm topic (empty: none). */
  alarmEmail: string;
  /** Alarm when the exposure window's p99 exceeds this many seconds. */
  exposureAlarmSeconds: string;
  /** The settle delay: every remediation waits at least this long, so the exposure alarm must allow more. */
  settleSeconds: string;
  /** The optional parts this stack deploys (default: none, as in single-account mode without re-keying). */
  deployment?: Partial<Deployment>;
}

/** A param the user must fix: reported in one line, without a stack trace (resources/observability.cjs). */
export class ParamError extends Error {
  override name = 'ParamError';
}

type Intrinsic = Record<string, unknown>;
export interface CloudFormationResource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown>;
}
export interface ObservabilityResources {
  Resources: Record<string, CloudFormationResource>;
  Outputs: Record<string, { Description: string; Value: unknown }>;
}

const ref = (id: string): Intrinsic => ({ Ref: id });
const PERIOD = 300;

/** A plausible single address; SNS sends it a confirmation mail, the real check. */
const EMAIL = /^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$/;

/**
 * `<service>-<stage>-<region>`: dashboards are global per account ("All dashboards in your account are
 * global, not region-specific", https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-resource-cloudwatch-dashboard.html),
 * so two regional stacks of one stage would otherwise fight over one dashboard. The region is the stack's
 * own (Fn::Sub); names allow letters, digits, `-` and `_`. Alarms, saved queries and the topic are regional
 * (an alarm name "must be unique within the Region", https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_PutMetricAlarm.html):
 * their names stay `<service>-<stage>-...`.
 */
const dashboardName = (service: string, stage: string): Intrinsic => ({ 'Fn::Sub': `${`${service}-${stage}`.replace(/[^A-Za-z0-9_-]/g, '-')}-\${AWS::Region}` });

interface AlarmSpec {
  id: string;
  name: string;
  description: string;
  namespace: string;
  metric: string;
  dimensions: Array<{ Name: string; Value: unknown }>;
  statistic: 'Sum' | 'Maximum' | (typeof EXPOSURE_PERCENTILES)[number];
  /** Fires above this value instead of on any count of 1 or more. */
  above?: number;
}

/** Fires on any datapoint of 1 or more (or above `above`) in five minutes; no data (nothing happened) is fine. */
const alarm = (spec: AlarmSpec, prefix: string): CloudFormationResource => ({
  Type: 'AWS::CloudWatch::Alarm',
  Properties: {
    AlarmName: `${prefix}-${spec.name}`,
    AlarmDescription: spec.description,
    Namespace: spec.namespace,
    MetricName: spec.metric,
    Dimensions: spec.dimensions,
    // Percentiles are extended statistics in CloudWatch.
    ...(spec.statistic.startsWith('p') ? { ExtendedStatistic: spec.statistic } : { Statistic: spec.statistic }),
    Period: PERIOD,
    EvaluationPeriods: 1,
    DatapointsToAlarm: 1,
    Threshold: spec.above ?? 1,
    ComparisonOperator: spec.above === undefined ? 'GreaterThanOrEqualToThreshold' : 'GreaterThanThreshold',
    TreatMissingData: 'notBreaching',
    AlarmActions: [ref(ALARM_TOPIC_ID)],
  },
});

const guardMetricAlarm = (id: string, name: string, metric: MetricName, description: string, serviceName: string): AlarmSpec => ({
  id, name, description, namespace: METRICS_NAMESPACE, metric, statistic: 'Sum',
  dimensions: Object.entries(metricDimensions(serviceName)).map(([Name, Value]) => ({ Name, Value })),
});

/** The exposure alarm's threshold in seconds: a whole number above the settle delay (every fix waits that long). */
export const exposureAlarmThreshold = (exposureAlarmSeconds: string, settleSeconds: string): number => {
  const seconds = Number(exposureAlarmSeconds);
  const settle = Number(settleSeconds);
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > 86_400) {
    throw new ParamError(`exposureAlarmSeconds (param exposureAlarmSeconds) must be a whole number of seconds from 1 to 86400, got "${exposureAlarmSeconds}"`);
  }
  if (Number.isFinite(settle) && seconds <= settle) {
    throw new ParamError(`exposureAlarmSeconds (param exposureAlarmSeconds) must be more than settleSeconds (${settle}): every fix waits the settle delay, so the alarm would always fire`);
  }
  return seconds;
};

export const EXPOSURE_ALARM_ID = 'ExposureWindowAlarm';

const upperFirst = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1);

export const MEMBER_ACCOUNTS_UNREACHABLE_ALARM_ID = 'MemberAccountsUnreachableAlarm';

export const alarmSpecs = (serviceName: string, exposureAlarmSeconds: number, deployment: Deployment = SINGLE_ACCOUNT): AlarmSpec[] => [
  guardMetricAlarm('RemediationsFailedAlarm', 'remediations-failed', 'RemediationsFailed',
    'The guard could not bring a bucket into line (ERROR verdict or FAILED action). See the dashboard widget "Failures and their reasons".', serviceName),
  guardMetricAlarm('ForeignOrUnusableKeyAlarm', 'foreign-or-unusable-key', 'ForeignOrUnusableKeyBuckets',
    'A bucket\'s default encryption uses a KMS key of another account, or a disabled, deleted or unusable key (FOREIGN_OR_UNUSABLE_KEY). The guard never rewrites such a bucket: writers may be failing now.', serviceName),
  {
    ...guardMetricAlarm(EXPOSURE_ALARM_ID, 'exposure-window', 'ExposureWindow',
      `Buckets stayed exposed too long: the p99 exposure window (CloudTrail event → verified fix) exceeded ${exposureAlarmSeconds} s (param exposureAlarmSeconds). See the dashboard's exposure widgets: a slow trail delivery, a backlog in the settle queue, or throttling.`, serviceName),
    statistic: EXPOSURE_PERCENTILES[EXPOSURE_PERCENTILES.length - 1],
    above: exposureAlarmSeconds * 1000,
  },
  ...(deployment.organization ? [guardMetricAlarm(MEMBER_ACCOUNTS_UNREACHABLE_ALARM_ID, 'member-accounts-unreachable', 'MemberAccountsUnreachable',
    `The hub could not assume the member role of an account (violation ${MEMBER_ROLE_UNAVAILABLE}): that account's buckets are not guarded. `
      + 'Which accounts: the dashboard widget or saved query "Unreachable member accounts". Deploy the spoke StackSet to that account (the management account is '
      + `skipped by StackSets: deploy the spoke there as a stack), or check that its member role (param memberRoleName, path ${GUARD_ROLE_PATH}) exists and trusts the hub's function roles (output HubRoleArns).`,
    serviceName)] : []),
  ...(deployment.reencrypt ? [guardMetricAlarm('ObjectReencryptionFailuresAlarm', 'object-reencryption-failures', 'ObjectReencryptionFailures',
    'Objects could not be re-keyed in place (access denied by Object Lock or a key policy, an unusable key, ...). See the findings with message "objects evaluated" and outcome PARTIAL or JOB_FAILED.', serviceName)] : []),
  ...deadLetterQueuesOf(deployment).map((queue): AlarmSpec => ({
    id: `${queue.id}Alarm`, name: queue.alarm, namespace: 'AWS/SQS', metric: 'ApproximateNumberOfMessagesVisible', statistic: 'Maximum',
    description: `A message is waiting in the ${queue.label}: ${queue.means}. Inspect it, then redrive or delete it.`,
    dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue.id, 'QueueName'] } }],
  })),
  ...functionsOf(deployment).map((fn): AlarmSpec => ({
    id: `${upperFirst(fn.name)}ErrorsAlarm`, name: `${fn.name}-errors`, namespace: 'AWS/Lambda', metric: 'Errors', statistic: 'Sum',
    description: `Function ${fn.name} failed (an unhandled error or a timeout). See the dashboard widget "Operational problems".`,
    dimensions: [{ Name: 'FunctionName', Value: ref(fn.functionId) }],
  })),
];

export const observabilityResources = (params: ObservabilityParams): ObservabilityResources => {
  const { service, stage, serviceName } = params;
  const alarmEmail = params.alarmEmail.trim();
  if (alarmEmail && !EMAIL.test(alarmEmail)) {
    throw new ParamError(`alarmEmail (param alarmEmail) must be one email address, got "${alarmEmail}"`);
  }
  const prefix = `${service}-${stage}`;
  const deployment: Deployment = { ...SINGLE_ACCOUNT, ...params.deployment };
  const specs = alarmSpecs(serviceName, exposureAlarmThreshold(params.exposureAlarmSeconds, params.settleSeconds), deployment);
  const functions = functionsOf(deployment);

  const resources: Record<string, CloudFormationResource> = {
    // Alarm notifications carry alarm metadata only. Not KMS-encrypted: CloudWatch cannot publish to a
    // topic encrypted with the AWS managed key aws/sns, and a customer key would be one more thing to run.
    [ALARM_TOPIC_ID]: {
      Type: 'AWS::SNS::Topic',
      Properties: { DisplayName: 'S3 encryption guard alarms' },
    },
  };
  if (alarmEmail) {
    resources[ALARM_EMAIL_SUBSCRIPTION_ID] = {
      Type: 'AWS::SNS::Subscription',
      Properties: { TopicArn: ref(ALARM_TOPIC_ID), Protocol: 'email', Endpoint: alarmEmail },
    };
  }
  for (const spec of specs) resources[spec.id] = alarm(spec, prefix);

  const logGroupNames = functions.map((fn) => ref(fn.logGroupId));
  for (const query of savedQueries(deployment.organization)) {
    resources[`${query.id}Query`] = {
      Type: 'AWS::Logs::QueryDefinition',
      Properties: { Name: `${prefix}/${query.title}`, QueryString: query.query, LogGroupNames: logGroupNames },
    };
  }

  // Placeholders Fn::Sub resolves: a log group's Ref is its name, a function's Ref its name.
  const body = dashboardBody({
    title: `${service} — stage ${stage}`,
    region: '${AWS::Region}',
    serviceName,
    logGroups: functions.map((fn) => `\${${fn.logGroupId}}`),
    functions: functions.map((fn) => ({ label: fn.name, name: `\${${fn.functionId}}` })),
    settleQueue: { label: SETTLE_QUEUE.label, name: `\${${SETTLE_QUEUE.id}.QueueName}` },
    deadLetterQueues: deadLetterQueuesOf(deployment).map((queue) => ({ label: queue.label, name: `\${${queue.id}.QueueName}` })),
    alarms: specs.map((spec) => `\${${spec.id}.Arn}`),
    queryFolder: prefix,
    reencrypt: deployment.reencrypt,
    organization: deployment.organization,
  });
  resources[DASHBOARD_ID] = {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: { DashboardName: dashboardName(service, stage), DashboardBody: { 'Fn::Sub': JSON.stringify(body) } },
  };

  return {
    Resources: resources,
    Outputs: {
      DashboardUrl: {
        Description: 'The guard\'s CloudWatch dashboard',
        Value: { 'Fn::Sub': `https://\${AWS::Region}.console.aws.amazon.com/cloudwatch/home?region=\${AWS::Region}#dashboards/dashboard/\${${DASHBOARD_ID}}` },
      },
      AlarmTopicArn: {
        Description: 'SNS topic of the guard\'s alarms: subscribe your on-call tools to it',
        Value: ref(ALARM_TOPIC_ID),
      },
    },
  };
};
