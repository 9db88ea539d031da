/**
 * The queries and the dashboard are tied to the code: every field a query reads is in the log lines the
 * real telemetry sink writes, and the metric widgets name exactly the metrics and dimensions Powertools
 * emits for them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardBody, type DashboardRefs, field, FINDING_KEY, guardMetric, logWidgetQuery, metricDimensions, ORGANIZATION_QUERIES, SAVED_QUERIES, savedQueries } from '../../lib/dashboard';
import type { Finding } from '../../lib/finding';
import { FINDING_MESSAGE } from '../../lib/finding';
import { COUNT_METRICS, METRIC_DIMENSIONS, METRIC_NAMES, METRICS_NAMESPACE, metrics, metricsFor, SERVICE_NAME, createTelemetrySink, TIMING_METRICS } from '../../lib/telemetry';
import { ORGANIZATION_METRICS, REENCRYPT_METRICS } from '../../lib/metric-names';
import { MEMBER_ACCOUNTS_UNREACHABLE_ALARM_ID, observabilityResources, type ObservabilityParams, SWEEP_WORKER_FUNCTION } from '../../lib/observability';
import { MEMBER_ROLE_UNAVAILABLE } from '../../lib/organization/names';
import { captureLogLines, fieldsOfQuery, type LogLine, missingFields, SAMPLE_FINDINGS } from '../finding-log-lines';

const REFS: DashboardRefs = {
  title: 'guard', region: 'eu-west-1', serviceName: 's3-encryption-guard',
  logGroups: ['/aws/lambda/a', '/aws/lambda/b'],
  functions: [{ label: 'a', name: 'fn-a' }, { label: 'b', name: 'fn-b' }],
  settleQueue: { label: 'settle', name: 'settle-q' },
  deadLetterQueues: [{ label: 'd1', name: 'dlq-1' }, { label: 'd2', name: 'dlq-2' }, { label: 'd3', name: 'dlq-3' }],
  alarms: ['arn:aws:cloudwatch:eu-west-1:123456789012:alarm:x'],
  queryFolder: 'guard-dev',
};
/** The organisation hub's dashboard: the same, with the per-account view. */
const HUB_REFS: DashboardRefs = { ...REFS, organization: true };

/** Every query a deployment can save: the single-account ones and the hub's per-account ones. */
const ALL_QUERIES = savedQueries(true);

/** How the hub reports an account whose member role it cannot assume (contract of issue 16): an ERROR finding with MEMBER_ROLE_UNAVAILABLE. */
const UNREACHABLE: Finding = {
  ...SAMPLE_FINDINGS[2], account: '210987654321', region: 'eu-west-1', bucket: 'team-data', action: 'SKIPPED',
  violations: [{ code: MEMBER_ROLE_UNAVAILABLE, severity: 'violation', detail: 'AccessDenied: not authorized to perform sts:AssumeRole' }],
};

describe('the saved queries read only fields the log lines have', () => {
  let lines: LogLine[];
  beforeAll(async () => { lines = await captureLogLines(); });

  it('captures the real lines: findings under `finding` with message "bucket evaluated", levels by verdict', () => {
    const findingLines = lines.filter((line) => line.message === FINDING_MESSAGE);
    expect(findingLines.map((line) => line[FINDING_KEY])).toEqual(SAMPLE_FINDINGS);
    expect(findingLines.map((line) => line.level)).toEqual(['WARN', 'ERROR', 'ERROR', 'INFO']);
    expect(lines.filter((line) => line.message !== FINDING_MESSAGE).map((line) => line.level)).toEqual(['WARN', 'ERROR']);
  });

  it.each(ALL_QUERIES.map((query) => [query.title, query] as const))('%s', (_title, query) => {
    expect(fieldsOfQuery(query.query).length).toBeGreaterThan(0);
    expect(missingFields(query.query, lines)).toEqual([]);
  });

  it('notices a field the lines do not have (the check is not vacuous)', () => {
    expect(missingFields('filter message = "bucket evaluated" | fields finding.bukket, finding.violations.7.cod, violation.codes', lines))
      .toEqual(['finding.bukket', 'finding.violations.7.cod', 'finding.violations.0.codes']);
  });

  it('names finding fields through the Finding type: a misspelt field does not compile', () => {
    // @ts-expect-error `bukket` is not a field of Finding
    expect(field('bukket')).toBe('finding.bukket');
    // @ts-expect-error `actors` is not a field of any trigger
    field('trigger.actors');
    expect(field('violations.2.code')).toBe('finding.violations.2.code');
  });

  it('covers the questions the issue asks: latest findings, not compliant now, failures, remediations by actor, warnings', () => {
    expect(SAVED_QUERIES.map((query) => query.id)).toEqual(expect.arrayContaining(['LatestFindings', 'NotCompliantNow', 'Failures', 'RemediationsByActor', 'Warnings']));
    const latest = SAVED_QUERIES.find((query) => query.id === 'LatestFindings')?.query ?? '';
    for (const path of ['bucket', 'mode', 'verdict', 'action', 'violations.0.code', 'trigger.actor'] as const) expect(latest).toContain(field(path));
  });

  it('is what the README shows (its example query is the saved one, verbatim)', () => {
    const readme = readFileSync(join(__dirname, '..', '..', 'README.md'), 'utf8');
    for (const id of ['NotCompliantNow', 'TopNonCompliantAccounts']) expect(readme).toContain(ALL_QUERIES.find((query) => query.id === id)?.query);
    for (const query of ALL_QUERIES) expect(readme).toContain(`| ${query.title} |`);
  });

  it('has titles usable as saved-query names (no "/", ":" or "*") and unique ids', () => {
    for (const query of ALL_QUERIES) expect(query.title).toMatch(/^[^/:*]+$/);
    expect(new Set(ALL_QUERIES.map((query) => query.id)).size).toBe(ALL_QUERIES.length);
  });

  it('saves the per-account queries only on the organisation hub', () => {
    expect(savedQueries()).toEqual(SAVED_QUERIES);
    expect(savedQueries(true)).toEqual([...SAVED_QUERIES, ...ORGANIZATION_QUERIES]);
  });
});

describe('the per-account view of the organisation hub (Logs Insights, no account dimension)', () => {
  const query = (id: string): string => {
    const found = ORGANIZATION_QUERIES.find((candidate) => candidate.id === id);
    if (!found) throw new Error(`no query ${id}`);
    return found.query;
  };

  it('"Top non-compliant accounts": NONCOMPLIANT and ERROR verdicts and FAILED actions, counted by account, most first, top 20', () => {
    const text = query('TopNonCompliantAccounts');
    expect(text).toContain(`${field('verdict')} in ["NONCOMPLIANT", "ERROR"] or ${field('action')} = "FAILED"`);
    expect(text).toMatch(new RegExp(`stats count\\(\\*\\) as findings, .* by ${field('account')}$`, 'm'));
    expect(text.split('\n| ').slice(-2)).toEqual(['sort findings desc', 'limit 20']);
  });

  it('"Findings per account and region": every finding counted by account, region and verdict', () => {
    const text = query('FindingsPerAccountAndRegion');
    expect(text.split('\n| ')[0]).toBe(`filter message = ${JSON.stringify(FINDING_MESSAGE)}`);
    expect(text).toContain(`by ${field('account')}, ${field('region')}, ${field('verdict')}`);
  });

  it('"Unreachable member accounts": findings with MEMBER_ROLE_UNAVAILABLE among their violations, by account, latest first', () => {
    const text = query('UnreachableMemberAccounts');
    // Any position in the list, not only the first violation.
    expect(text).toContain(`unnest line.${field('violations')} into violation`);
    expect(text).toContain(`filter violation.code = "${MEMBER_ROLE_UNAVAILABLE}"`);
    expect(text).toContain(`max(@timestamp) as lastSeen by ${field('account')}`);
    expect(text).toContain('sort lastSeen desc');
  });

  it('reads account and region from the finding (the fields every finding carries)', () => {
    for (const path of ['account', 'region'] as const) expect(ORGANIZATION_QUERIES.some((saved) => saved.query.includes(field(path)))).toBe(true);
    expect(SAMPLE_FINDINGS.every((finding) => finding.account && finding.region)).toBe(true);
  });
});

describe('metrics as the code emits them', () => {
  afterEach(() => metrics.clearMetrics());

  const emitted = (finding: Finding) => {
    createTelemetrySink().finding(finding, false);
    const emf = metrics.serializeMetrics() as unknown as { _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string }> }> } } & Record<string, unknown>;
    return emf;
  };

  it('emits namespace S3EncryptionGuard with exactly the `service` dimension, as the dashboard and alarms name it', () => {
    const emf = emitted(SAMPLE_FINDINGS[1]);
    const [directive] = emf._aws.CloudWatchMetrics;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([[...METRIC_DIMENSIONS]]);
    // Tests do not set POWERTOOLS_SERVICE_NAME: Powertools falls back to the service name the code gives it.
    expect(Object.fromEntries(METRIC_DIMENSIONS.map((name) => [name, emf[name]]))).toEqual(metricDimensions(SERVICE_NAME));
    expect(directive.Metrics.map((metric) => metric.Name).sort()).toEqual(metricsFor(SAMPLE_FINDINGS[1]).sort());
  });

  it('counts FOREIGN_OR_UNUSABLE_KEY findings in their own metric (the alarm\'s), and in RemediationsFailed', () => {
    expect(metricsFor(SAMPLE_FINDINGS[1])).toEqual(expect.arrayContaining(['ForeignOrUnusableKeyBuckets', 'RemediationsFailed']));
    for (const finding of SAMPLE_FINDINGS.filter((f) => !f.violations.some((v) => v.code === 'FOREIGN_OR_UNUSABLE_KEY'))) {
      expect(metricsFor(finding)).not.toContain('ForeignOrUnusableKeyBuckets');
    }
  });

  it('counts MemberAccountsUnreachable once for each finding whose violations include MEMBER_ROLE_UNAVAILABLE, at any position, and for no other', () => {
    const second: Finding = { ...UNREACHABLE, violations: [{ code: 'ACCESS_DENIED', severity: 'violation', detail: 'x' }, ...UNREACHABLE.violations] };
    for (const finding of [UNREACHABLE, second]) {
      expect(metricsFor(finding).filter((name) => name === 'MemberAccountsUnreachable')).toEqual(['MemberAccountsUnreachable']);
    }
    for (const finding of SAMPLE_FINDINGS) expect(metricsFor(finding)).not.toContain('MemberAccountsUnreachable');
    // An ERROR finding: also a failure (the remediations-failed alarm), like every account the hub cannot act in.
    expect(metricsFor(UNREACHABLE)).toEqual(expect.arrayContaining(['BucketsEvaluated', 'RemediationsFailed']));
    const emf = emitted(UNREACHABLE);
    expect(emf._aws.CloudWatchMetrics[0].Metrics.map((metric) => metric.Name)).toContain('MemberAccountsUnreachable');
    // Never an account dimension: the per-account view is from Logs Insights.
    expect(emf._aws.CloudWatchMetrics[0].Dimensions).toEqual([[...METRIC_DIMENSIONS]]);
  });

  it('only ever emits names of METRIC_NAMES', () => {
    for (const finding of SAMPLE_FINDINGS) for (const name of metricsFor(finding)) expect(METRIC_NAMES).toContain(name);
  });
});

describe('the dashboard body', () => {
  const body = dashboardBody(REFS);
  const ofType = (type: string) => body.widgets.filter((widget) => widget.type === type);
  const rows = (widget: { properties: Record<string, unknown> }) => widget.properties.metrics as Array<Array<string | object>>;

  it('has one metric widget per guard metric, naming the namespace, the metric and exactly its dimensions', () => {
    const guardWidgets = ofType('metric').filter((widget) => rows(widget).some((row) => row[0] === METRICS_NAMESPACE));
    expect(guardWidgets.map((widget) => rows(widget)[0][1]).sort())
      .toEqual(METRIC_NAMES.filter((name) => !REENCRYPT_METRICS.includes(name) && !ORGANIZATION_METRICS.some((organization) => organization === name)).sort());
    for (const row of guardWidgets.flatMap(rows)) {
      expect(row.slice(0, 4)).toEqual(guardMetric(row[1] as (typeof METRIC_NAMES)[number], REFS.serviceName));
      expect(row.slice(2, 4)).toEqual(['service', 's3-encryption-guard']);
    }
  });

  it('sums the counts, and shows the exposure figures as p50, p90 and p99 with the sweep\'s catches beside them', () => {
    const widgetOf = (name: string) => ofType('metric').find((widget) => rows(widget)[0][1] === name)!;
    for (const name of COUNT_METRICS.filter((count) => !REENCRYPT_METRICS.includes(count) && !ORGANIZATION_METRICS.includes(count))) expect(widgetOf(name).properties.stat).toBe('Sum');
    for (const name of TIMING_METRICS) {
      expect(rows(widgetOf(name)).map((row) => row[4])).toEqual([{ stat: 'p50', label: 'p50' }, { stat: 'p90', label: 'p90' }, { stat: 'p99', label: 'p99' }]);
    }
    const exposureRow = new Set([...TIMING_METRICS, 'SweepCatches'].map((name) => widgetOf(name).y));
    expect(exposureRow.size).toBe(1);
  });

  it('charts the re-keying metrics only where re-keying is deployed (reencryptObjects not off)', () => {
    const names = (refs: typeof REFS) => dashboardBody(refs).widgets.filter((w) => w.type === 'metric')
      .flatMap((w) => (w.properties.metrics as unknown[][])).filter((row) => row[0] === METRICS_NAMESPACE).map((row) => row[1]);
    expect([...new Set(names({ ...REFS, reencrypt: true }))].sort()).toEqual(METRIC_NAMES.filter((name) => !ORGANIZATION_METRICS.some((organization) => organization === name)).sort());
    expect(names(REFS)).not.toContain('ObjectsReencrypted');
  });

  it('queries the given log groups in every log widget, with the saved queries', () => {
    expect(ofType('log').map((widget) => widget.properties.query)).toEqual(SAVED_QUERIES.map((query) => logWidgetQuery(REFS.logGroups, query.query)));
    for (const widget of ofType('log')) expect(widget.properties.query).toMatch(/^SOURCE '\/aws\/lambda\/a' \| SOURCE '\/aws\/lambda\/b' \| /);
  });

  it('shows every dead-letter queue, the settle queue and every function', () => {
    const text = JSON.stringify(body);
    for (const name of ['dlq-1', 'dlq-2', 'dlq-3', 'settle-q', 'fn-a', 'fn-b']) expect(text).toContain(`"${name}"`);
  });

  it('shows the organisation only on the hub: MemberAccountsUnreachable (summed, exactly the `service` dimension) and the per-account log widgets over the given log groups', () => {
    const hub = dashboardBody(HUB_REFS);
    const logTitles = (widgets: typeof hub.widgets) => widgets.filter((widget) => widget.type === 'log').map((widget) => widget.properties.title);
    expect(logTitles(hub.widgets)).toEqual(expect.arrayContaining(['Top non-compliant accounts', 'Findings per account and region', 'Unreachable member accounts']));
    expect(logTitles(hub.widgets)).toHaveLength(ALL_QUERIES.length);
    for (const saved of ORGANIZATION_QUERIES) {
      const widget = hub.widgets.find((candidate) => candidate.properties.title === saved.title);
      expect(widget?.properties.query).toBe(logWidgetQuery(HUB_REFS.logGroups, saved.query));
    }
    const unreachable = hub.widgets.filter((widget) => widget.type === 'metric' && rows(widget).some((row) => row[1] === 'MemberAccountsUnreachable'));
    expect(unreachable).toHaveLength(1);
    expect(unreachable[0].properties.stat).toBe('Sum');
    expect(rows(unreachable[0])).toEqual([guardMetric('MemberAccountsUnreachable', REFS.serviceName)]);

    expect(JSON.stringify(body)).not.toContain('MemberAccountsUnreachable');
    expect(logTitles(body.widgets)).toEqual(SAVED_QUERIES.map((saved) => saved.title));
  });

  it.each([['single account', REFS], ['organisation hub', HUB_REFS]] as const)('lays the widgets out on the 24-unit grid without overlap (%s)', (_mode, refs) => {
    const { widgets } = dashboardBody(refs);
    for (const widget of widgets) expect(widget.x + widget.width).toBeLessThanOrEqual(24);
    const cells = new Set<string>();
    for (const widget of widgets) {
      for (let x = widget.x; x < widget.x + widget.width; x += 1) {
        for (let y = widget.y; y < widget.y + widget.height; y += 1) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});

describe('the observability resources', () => {
  const PARAMS: ObservabilityParams = {
    service: 's3-encryption-guard', stage: 'prod', serviceName: 's3-encryption-guard', alarmEmail: '', exposureAlarmSeconds: '900', settleSeconds: '60',
  };
  const single = observabilityResources(PARAMS);
  const hubWithoutWorker = observabilityResources({ ...PARAMS, deployment: { organization: true } });
  const hub = observabilityResources({ ...PARAMS, deployment: { organization: true, sweepWorker: true } });
  const ofType = (resources: typeof single, type: string) => Object.entries(resources.Resources).filter(([, resource]) => resource.Type === type);

  it('names the dashboard <service>-<stage>-<region>: dashboards are global per account, and two regional stacks must not share one', () => {
    expect(single.Resources.GuardDashboard.Properties.DashboardName).toEqual({ 'Fn::Sub': 's3-encryption-guard-prod-${AWS::Region}' });
    // Only letters, digits, - and _ are allowed: anything else in service or stage becomes "-".
    expect(observabilityResources({ ...PARAMS, stage: 'feature.x' }).Resources.GuardDashboard.Properties.DashboardName)
      .toEqual({ 'Fn::Sub': 's3-encryption-guard-feature-x-${AWS::Region}' });
  });

  it('keeps the alarm names <service>-<stage>-...: alarms are regional, so stacks in two regions cannot collide', () => {
    for (const [, alarm] of ofType(hub, 'AWS::CloudWatch::Alarm')) expect(alarm.Properties.AlarmName).toMatch(/^s3-encryption-guard-prod-[a-zA-Z-]+$/);
  });

  it('alarms on any MemberAccountsUnreachable only on the hub, saying what to do', () => {
    expect(single.Resources).not.toHaveProperty(MEMBER_ACCOUNTS_UNREACHABLE_ALARM_ID);
    const alarm = hub.Resources[MEMBER_ACCOUNTS_UNREACHABLE_ALARM_ID];
    expect(alarm.Properties).toMatchObject({
      AlarmName: 's3-encryption-guard-prod-member-accounts-unreachable', MetricName: 'MemberAccountsUnreachable', Statistic: 'Sum',
      Dimensions: [{ Name: 'service', Value: 's3-encryption-guard' }], Threshold: 1, ComparisonOperator: 'GreaterThanOrEqualToThreshold', TreatMissingData: 'notBreaching',
    });
    expect(alarm.Properties.AlarmDescription).toMatch(/Deploy the spoke StackSet to that account/);
    expect(alarm.Properties.AlarmDescription).toMatch(/member role .* exists and trusts the hub's function roles/);
    expect(alarm.Properties.AlarmDescription).toContain('"Unreachable member accounts"');
    expect(String(alarm.Properties.AlarmDescription).length).toBeLessThanOrEqual(1024);
  });

  it('saves the per-account queries only on the hub, over every function\'s log group: sweepWorker\'s where it is deployed', () => {
    const names = (resources: typeof single) => ofType(resources, 'AWS::Logs::QueryDefinition').map(([, query]) => query.Properties.Name);
    expect(names(single)).toEqual(SAVED_QUERIES.map((query) => `s3-encryption-guard-prod/${query.title}`));
    expect(names(hub)).toEqual(ALL_QUERIES.map((query) => `s3-encryption-guard-prod/${query.title}`));
    const groups = (resources: typeof single) => [...new Set(ofType(resources, 'AWS::Logs::QueryDefinition').map(([, query]) => JSON.stringify(query.Properties.LogGroupNames)))];
    expect(groups(hub)).toEqual([JSON.stringify([{ Ref: 'EnforceBucketLogGroup' }, { Ref: 'SweepBucketsLogGroup' }, { Ref: SWEEP_WORKER_FUNCTION.logGroupId }])]);
    expect(groups(hubWithoutWorker)).toEqual([JSON.stringify([{ Ref: 'EnforceBucketLogGroup' }, { Ref: 'SweepBucketsLogGroup' }])]);
  });

  it('reads sweepWorker\'s log group in the dashboard and alarms on its errors where it is deployed, and never names it where it is not', () => {
    const text = (resources: typeof single) => JSON.stringify(resources);
    expect(text(hub)).toContain(`SOURCE '\${${SWEEP_WORKER_FUNCTION.logGroupId}}'`);
    expect(hub.Resources.SweepWorkerErrorsAlarm.Properties).toMatchObject({ MetricName: 'Errors', Dimensions: [{ Name: 'FunctionName', Value: { Ref: SWEEP_WORKER_FUNCTION.functionId } }] });
    for (const resources of [single, hubWithoutWorker]) expect(text(resources)).not.toContain('SweepWorker');
  });
});
