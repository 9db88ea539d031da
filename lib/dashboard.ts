/**
 * How users read the guard in CloudWatch: the Logs Insights queries (saved, and on the dashboard) and
 * the dashboard body. Pure — no AWS calls; lib/observability.ts turns it into CloudFormation.
 *
 * Everything here is derived from the code, not retyped: metric names and dimensions from
 * metric-names.ts, the log message from finding.ts, and every finding field through `field()`, whose
 * argument type is the set of paths of the `Finding` type — renaming a finding field breaks the build
 * until the queries follow (and tests/unit/dashboard.test.ts checks the fields against real log lines).
 */
import type { Verdict, Violation, ViolationCode } from './evaluate';
import { type Action, type Finding, FINDING_MESSAGE } from './finding';
import {
  COUNT_METRICS, type CountMetric, METRIC_DIMENSIONS, type MetricName, METRICS_NAMESPACE, ORGANIZATION_METRICS, REENCRYPT_METRICS, TIMING_METRICS, type TimingMetric,
} from './metric-names';
import { MEMBER_ROLE_UNAVAILABLE } from './organization/names';

type Leaf = string | number | boolean | bigint | null | undefined;

/** Dotted paths into a JSON value as Logs Insights flattens it: objects by key, arrays by index. */
export type PathsOf<T> = T extends Leaf ? never
  : T extends readonly (infer Element)[] ? `${number}` | `${number}.${PathsOf<Element>}`
    : { [K in keyof T & string]-?: K | `${K}.${PathsOf<NonNullable<T[K]>>}` }[keyof T & string];

/** The key the finding is logged under (telemetry.ts: `log(FINDING_MESSAGE, { finding })`). */
export const FINDING_KEY = 'finding';

/** A finding field as Logs Insights names it, e.g. `finding.trigger.actor`, `finding.violations.0.code`. */
export const field = (path: PathsOf<Finding>): string => `${FINDING_KEY}.${path}`;

/** A field of one violation, after `unnest ... into violation`. */
const violationField = (key: keyof Violation): string => `violation.${key}`;

/** The log line, parsed, for `unnest` (which needs a list value; the flattened fields are not one). */
const LINE = 'line';

/** String literals of the query language, typed so that a renamed verdict, action or trigger type breaks the build. */
const verdict = (value: Verdict): string => JSON.stringify(value);
const action = (value: Action): string => JSON.stringify(value);
const literal = (value: Finding['trigger']['type'] | Violation['severity'] | ViolationCode | typeof FINDING_MESSAGE): string => JSON.stringify(value);

const FINDINGS = `filter message = ${literal(FINDING_MESSAGE)}`;

/** Log levels Powertools writes for things that went wrong. */
const PROBLEM_LEVELS = ['WARN', 'ERROR', 'CRITICAL'];

/** Columns of the violation codes in table views: a finding rarely has more than three. */
const violationColumns = (count: number, withDetail = false): string[] =>
  Array.from({ length: count }, (_, index) => [field(`violations.${index}.code`), ...(withDetail ? [field(`violations.${index}.detail`)] : [])]).flat();

export interface SavedQuery {
  /** Logical-id friendly name. */
  id: string;
  /** Title of the widget and name of the saved query (no `/`, `:` or `*`). */
  title: string;
  /** The question it answers (README, dashboard). */
  question: string;
  /** Logs Insights query, without the log groups (`SOURCE`), lines joined with `\n| `. */
  query: string;
  /** Width on the dashboard (of 24) and height. */
  width: number;
  height: number;
}

const lines = (...commands: string[]): string => commands.join('\n| ');

export const SAVED_QUERIES: readonly SavedQuery[] = [
  {
    id: 'LatestFindings',
    title: 'Latest findings',
    question: 'What did the guard find and do, most recent first: bucket, required mode, verdict, action, violations, who triggered it (empty for the sweep)',
    query: lines(
      FINDINGS,
      `fields @timestamp, ${[field('bucket'), field('mode'), field('verdict'), field('action'), ...violationColumns(3), field('trigger.actor')].join(', ')}`,
      'sort @timestamp desc',
      'limit 100',
    ),
    width: 24,
    height: 8,
  },
  {
    id: 'NotCompliantNow',
    title: 'Buckets not compliant now',
    question: 'Buckets whose latest finding is ERROR, or NONCOMPLIANT without a remediation (dry run, failed write) — within the time range shown',
    query: lines(
      FINDINGS,
      `stats latest(${field('verdict')}) as verdict, latest(${field('action')}) as action, latest(${field('mode')}) as requiredMode, `
        + `latest(${field('violations.0.code')}) as violation, max(@timestamp) as lastEvaluated by ${field('bucket')}`,
      `filter verdict = ${verdict('ERROR')} or (verdict = ${verdict('NONCOMPLIANT')} and action != ${action('REMEDIATED')})`,
      'sort lastEvaluated desc',
      'limit 1000',
    ),
    width: 24,
    height: 8,
  },
  {
    id: 'Failures',
    title: 'Failures and their reasons',
    question: 'Buckets the guard could not bring into line (ERROR verdict or FAILED action), with the violations that say why',
    query: lines(
      `${FINDINGS} and (${field('verdict')} = ${verdict('ERROR')} or ${field('action')} = ${action('FAILED')})`,
      `fields @timestamp, ${[field('bucket'), field('verdict'), field('action'), ...violationColumns(2, true)].join(', ')}`,
      'sort @timestamp desc',
      'limit 100',
    ),
    width: 12,
    height: 8,
  },
  {
    id: 'RemediationsByActor',
    title: 'Remediations by actor',
    question: 'Who keeps creating or changing buckets that are not compliant: non-compliant findings of CloudTrail events, by the caller',
    query: lines(
      `${FINDINGS} and ${field('trigger.type')} = ${literal('event')} and ${field('verdict')} = ${verdict('NONCOMPLIANT')}`,
      `stats count(*) as findings, count_distinct(${field('bucket')}) as buckets, latest(${field('bucket')}) as lastBucket, `
        + `latest(${field('action')}) as lastAction, max(@timestamp) as lastSeen by ${field('trigger.actor')}`,
      'sort findings desc',
      'limit 50',
    ),
    width: 12,
    height: 8,
  },
  {
    id: 'Warnings',
    title: 'Warnings',
    question: 'Warnings that do not change the verdict (key rotation off, bucket key off, KMS that may break writers, ...), by bucket',
    query: lines(
      FINDINGS,
      `fields jsonParse(@message) as ${LINE}`,
      `unnest ${LINE}.${field('violations')} into violation`,
      `filter ${violationField('severity')} = ${literal('warning')}`,
      `stats count(*) as findings, latest(${violationField('detail')}) as detail, max(@timestamp) as lastSeen by ${field('bucket')}, ${violationField('code')}`,
      'sort lastSeen desc',
      'limit 200',
    ),
    width: 12,
    height: 8,
  },
  {
    id: 'OperationalProblems',
    title: 'Operational problems',
    question: 'Everything else logged as a warning or error: evaluations to be retried, sweeps stopped, finding events not published',
    query: lines(
      `filter level in ${JSON.stringify(PROBLEM_LEVELS)} and message != ${literal(FINDING_MESSAGE)}`,
      'fields @timestamp, level, message, @message',
      'sort @timestamp desc',
      'limit 100',
    ),
    width: 12,
    height: 8,
  },
];

/**
 * The per-account view of the organisation hub (param organization=hub), from Logs Insights rather than
 * metrics: every finding carries its account and region, and a metric dimension per account would be
 * unbounded (one custom metric per account and name). In single-account mode every finding has the same
 * account, so these are not deployed.
 */
export const ORGANIZATION_QUERIES: readonly SavedQuery[] = [
  {
    id: 'UnreachableMemberAccounts',
    title: 'Unreachable member accounts',
    question: 'Accounts whose member role the hub could not assume (MEMBER_ROLE_UNAVAILABLE): not guarded until the spoke is deployed there or the role trusts the hub',
    query: lines(
      // The hub reports an unreachable account as an ERROR finding: the cheap filter first, then the violation.
      `${FINDINGS} and ${field('verdict')} = ${verdict('ERROR')}`,
      `fields jsonParse(@message) as ${LINE}`,
      `unnest ${LINE}.${field('violations')} into violation`,
      `filter ${violationField('code')} = ${literal(MEMBER_ROLE_UNAVAILABLE)}`,
      `stats count(*) as findings, latest(${violationField('detail')}) as detail, max(@timestamp) as lastSeen by ${field('account')}`,
      'sort lastSeen desc',
      'limit 1000',
    ),
    width: 16,
    height: 6,
  },
  {
    id: 'TopNonCompliantAccounts',
    title: 'Top non-compliant accounts',
    question: 'Which accounts have the most findings that need attention (NONCOMPLIANT or ERROR verdict, FAILED action): findings, distinct buckets and regions, last seen',
    query: lines(
      `${FINDINGS} and (${field('verdict')} in [${verdict('NONCOMPLIANT')}, ${verdict('ERROR')}] or ${field('action')} = ${action('FAILED')})`,
      `stats count(*) as findings, count_distinct(${field('bucket')}) as buckets, count_distinct(${field('region')}) as regions, max(@timestamp) as lastSeen by ${field('account')}`,
      'sort findings desc',
      'limit 20',
    ),
    width: 12,
    height: 8,
  },
  {
    id: 'FindingsPerAccountAndRegion',
    title: 'Findings per account and region',
    question: 'How many findings of each verdict every account and region had, and on how many buckets',
    query: lines(
      FINDINGS,
      `stats count(*) as findings, count_distinct(${field('bucket')}) as buckets by ${field('account')}, ${field('region')}, ${field('verdict')}`,
      'sort findings desc',
      'limit 1000',
    ),
    width: 12,
    height: 8,
  },
];

/** The queries a deployment saves and shows: the per-account ones only on the organisation hub. */
export const savedQueries = (organization = false): readonly SavedQuery[] => (organization ? [...SAVED_QUERIES, ...ORGANIZATION_QUERIES] : SAVED_QUERIES);

/** What the dashboard shows, by name or placeholder (`${SettleQueue.QueueName}` for Fn::Sub). */
export interface DashboardRefs {
  /** Title at the top. */
  title: string;
  region: string;
  /** The value of the metrics' `service` dimension (POWERTOOLS_SERVICE_NAME). */
  serviceName: string;
  logGroups: readonly string[];
  functions: ReadonlyArray<{ label: string; name: string }>;
  settleQueue: { label: string; name: string };
  deadLetterQueues: ReadonlyArray<{ label: string; name: string }>;
  /** Alarm ARNs, for the alarm status widget. */
  alarms: readonly string[];
  /** Name of the saved queries' folder. */
  queryFolder: string;
  /** Re-keying existing objects is deployed (reencryptObjects param): its metrics are shown. */
  reencrypt?: boolean;
  /** This is the organisation hub (param organization=hub): the per-account view and MemberAccountsUnreachable are shown. */
  organization?: boolean;
}

export interface Widget {
  type: 'metric' | 'log' | 'text' | 'alarm';
  x: number;
  y: number;
  width: number;
  height: number;
  properties: Record<string, unknown>;
}

export interface DashboardBody {
  widgets: Widget[];
}

/** A metric in a metric widget: namespace, name, dimension name/value pairs, options. */
type MetricRow = Array<string | Record<string, unknown>>;

const METRIC_TITLES: Record<CountMetric, string> = {
  BucketsEvaluated: 'Buckets evaluated',
  NonCompliantBuckets: 'Non-compliant buckets found',
  BucketsRemediated: 'Buckets remediated',
  RemediationsFailed: 'Remediations failed (ERROR or FAILED)',
  BucketsExempt: 'Buckets exempt',
  ForeignOrUnusableKeyBuckets: 'Buckets on a foreign or unusable key',
  MemberAccountsUnreachable: 'Member accounts unreachable (member role not assumable)',
  SweepCatches: 'Sweep catches (non-compliant buckets the sweep found)',
  ObjectsReencrypted: 'Objects re-keyed in place',
  ObjectReencryptionFailures: 'Objects whose re-keying failed',
};

const TIMING_TITLES: Record<TimingMetric, string> = {
  DetectionLag: 'Detection lag (ms): change → guard starts',
  ExposureWindow: 'Exposure window (ms): change → verified fix',
};

/** The percentiles the exposure widgets show (and the alarm watches the last). */
export const EXPOSURE_PERCENTILES = ['p50', 'p90', 'p99'] as const;

/** Counts charted beside the exposure figures rather than with the other counts. */
const BESIDE_EXPOSURE: ReadonlySet<CountMetric> = new Set(['SweepCatches']);

/** The dimensions of every guard metric, with their values: exactly those Powertools emits. */
export const metricDimensions = (serviceName: string): Record<(typeof METRIC_DIMENSIONS)[number], string> => ({ service: serviceName });

export const guardMetric = (name: MetricName, serviceName: string): MetricRow =>
  [METRICS_NAMESPACE, name, ...Object.entries(metricDimensions(serviceName)).flat()];

const PERIOD = 300;

const metricWidget = (title: string, region: string, metrics: MetricRow[], stat: string, extra: Record<string, unknown> = {}): Omit<Widget, 'x' | 'y'> => ({
  type: 'metric',
  width: 8,
  height: 6,
  properties: { title, region, view: 'timeSeries', stacked: false, stat, period: PERIOD, metrics, yAxis: { left: { min: 0 } }, ...extra },
});

const percentileRows = (name: TimingMetric, serviceName: string): MetricRow[] =>
  EXPOSURE_PERCENTILES.map((stat) => [...guardMetric(name, serviceName), { stat, label: stat }]);

const sqs = (metric: string, queue: { label: string; name: string }): MetricRow => ['AWS/SQS', metric, 'QueueName', queue.name, { label: queue.label }];
const lambda = (metric: string, fn: { label: string; name: string }, label: string, stat?: string): MetricRow =>
  ['AWS/Lambda', metric, 'FunctionName', fn.name, { label: `${fn.label} ${label}`, ...(stat ? { stat } : {}) }];

/** Log widgets query the given log groups: `SOURCE 'group' | ... | query`, as CloudWatch dashboards expect. */
export const logWidgetQuery = (logGroups: readonly string[], query: string): string =>
  `${logGroups.map((group) => `SOURCE '${group}'`).join(' | ')} | ${query}`;

/** Lays widgets out left to right in rows of 24 units. */
const layOut = (widgets: ReadonlyArray<Omit<Widget, 'x' | 'y'>>): Widget[] => {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return widgets.map((widget) => {
    if (x + widget.width > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const placed = { ...widget, x, y };
    x += widget.width;
    rowHeight = Math.max(rowHeight, widget.height);
    return placed;
  });
};

export const dashboardBody = (refs: DashboardRefs): DashboardBody => {
  const { region } = refs;
  const intro = [
    `# ${refs.title}`,
    'Findings of the S3 encryption guard: metrics, the latest findings, what needs attention, and the health of its queues and functions.',
    ...(refs.organization ? ['The organisation hub: findings of every member account and region, with a per-account view from Logs Insights.'] : []),
    `The same queries are saved in CloudWatch Logs Insights, folder \`${refs.queryFolder}\`.`,
  ].join('\n\n');
  const countWidget = (name: CountMetric) => metricWidget(METRIC_TITLES[name], region, [guardMetric(name, refs.serviceName)], 'Sum');
  const logWidget = (saved: SavedQuery): Omit<Widget, 'x' | 'y'> => ({
    type: 'log',
    width: saved.width,
    height: saved.height,
    properties: { title: saved.title, region, view: 'table', query: logWidgetQuery(refs.logGroups, saved.query) },
  });
  const widgets: Array<Omit<Widget, 'x' | 'y'>> = [
    { type: 'text', width: 16, height: 3, properties: { markdown: intro } },
    { type: 'alarm', width: 8, height: 3, properties: { title: 'Alarms', alarms: [...refs.alarms] } },
    ...COUNT_METRICS.filter((name) => !BESIDE_EXPOSURE.has(name) && !ORGANIZATION_METRICS.includes(name) && (refs.reencrypt || !REENCRYPT_METRICS.includes(name)))
      .map(countWidget),
    // The organisation: unreachable accounts (the metric its alarm watches, and which accounts), then the per-account view.
    ...(refs.organization ? [...ORGANIZATION_METRICS.map(countWidget), ...ORGANIZATION_QUERIES.map(logWidget)] : []),
    // The exposure window, and beside it what the event path missed.
    ...TIMING_METRICS.map((name) => metricWidget(TIMING_TITLES[name], region, percentileRows(name, refs.serviceName), 'p99')),
    ...[...BESIDE_EXPOSURE].map(countWidget),
    ...SAVED_QUERIES.map(logWidget),
    metricWidget('Dead-letter queues: messages', region, refs.deadLetterQueues.map((queue) => sqs('ApproximateNumberOfMessagesVisible', queue)), 'Maximum'),
    metricWidget('Dead-letter queues: age of oldest message (s)', region, refs.deadLetterQueues.map((queue) => sqs('ApproximateAgeOfOldestMessage', queue)), 'Maximum'),
    metricWidget('Settle queue: messages', region, [
      sqs('ApproximateNumberOfMessagesDelayed', { ...refs.settleQueue, label: 'settling (delayed)' }),
      sqs('ApproximateNumberOfMessagesVisible', { ...refs.settleQueue, label: 'waiting' }),
      sqs('ApproximateNumberOfMessagesNotVisible', { ...refs.settleQueue, label: 'in flight' }),
    ], 'Maximum'),
    metricWidget('Settle queue: age of oldest message (s)', region, [sqs('ApproximateAgeOfOldestMessage', refs.settleQueue)], 'Maximum'),
    metricWidget('Function errors and throttles', region, refs.functions.flatMap((fn) => [lambda('Errors', fn, 'errors'), lambda('Throttles', fn, 'throttles')]), 'Sum'),
    metricWidget('Function duration (ms)', region, refs.functions.flatMap((fn) => [lambda('Duration', fn, 'average', 'Average'), lambda('Duration', fn, 'maximum', 'Maximum')]), 'Average'),
  ];
  return { widgets: layOut(widgets) };
};
