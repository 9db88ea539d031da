/**
 * The queries and the dashboard are tied to the code: every field a query reads is in the log lines the
 * real telemetry sink writes, and the metric widgets name exactly the metrics and dimensions Powertools
 * emits for them.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { dashboardBody, type DashboardRefs, field, FINDING_KEY, guardMetric, logWidgetQuery, metricDimensions, SAVED_QUERIES } from '../../lib/dashboard';
import type { Finding } from '../../lib/finding';
import { FINDING_MESSAGE } from '../../lib/finding';
import { COUNT_METRICS, METRIC_DIMENSIONS, METRIC_NAMES, METRICS_NAMESPACE, metrics, metricsFor, SERVICE_NAME, createTelemetrySink, TIMING_METRICS } from '../../lib/telemetry';
import { REENCRYPT_METRICS } from '../../lib/metric-names';
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

describe('the saved queries read only fields the log lines have', () => {
  let lines: LogLine[];
  beforeAll(async () => { lines = await captureLogLines(); });

  it('captures the real lines: findings under `finding` with message "bucket evaluated", levels by verdict', () => {
    const findingLines = lines.filter((line) => line.message === FINDING_MESSAGE);
    expect(findingLines.map((line) => line[FINDING_KEY])).toEqual(SAMPLE_FINDINGS);
    expect(findingLines.map((line) => line.level)).toEqual(['WARN', 'ERROR', 'ERROR', 'INFO']);
    expect(lines.filter((line) => line.message !== FINDING_MESSAGE).map((line) => line.level)).toEqual(['WARN', 'ERROR']);
  });

  it.each(SAVED_QUERIES.map((query) => [query.title, query] as const))('%s', (_title, query) => {
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
    expect(readme).toContain(SAVED_QUERIES.find((query) => query.id === 'NotCompliantNow')?.query);
    for (const query of SAVED_QUERIES) expect(readme).toContain(`| ${query.title} |`);
  });

  it('has titles usable as saved-query names (no "/", ":" or "*") and unique ids', () => {
    for (const query of SAVED_QUERIES) expect(query.title).toMatch(/^[^/:*]+$/);
    expect(new Set(SAVED_QUERIES.map((query) => query.id)).size).toBe(SAVED_QUERIES.length);
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
    expect(guardWidgets.map((widget) => rows(widget)[0][1]).sort()).toEqual(METRIC_NAMES.filter((name) => !REENCRYPT_METRICS.includes(name)).sort());
    for (const row of guardWidgets.flatMap(rows)) {
      expect(row.slice(0, 4)).toEqual(guardMetric(row[1] as (typeof METRIC_NAMES)[number], REFS.serviceName));
      expect(row.slice(2, 4)).toEqual(['service', 's3-encryption-guard']);
    }
  });

  it('sums the counts, and shows the exposure figures as p50, p90 and p99 with the sweep\'s catches beside them', () => {
    const widgetOf = (name: string) => ofType('metric').find((widget) => rows(widget)[0][1] === name)!;
    for (const name of COUNT_METRICS.filter((count) => !REENCRYPT_METRICS.includes(count))) expect(widgetOf(name).properties.stat).toBe('Sum');
    for (const name of TIMING_METRICS) {
      expect(rows(widgetOf(name)).map((row) => row[4])).toEqual([{ stat: 'p50', label: 'p50' }, { stat: 'p90', label: 'p90' }, { stat: 'p99', label: 'p99' }]);
    }
    const exposureRow = new Set([...TIMING_METRICS, 'SweepCatches'].map((name) => widgetOf(name).y));
    expect(exposureRow.size).toBe(1);
  });

  it('charts the re-keying metrics only where re-keying is deployed (reencryptObjects not off)', () => {
    const names = (refs: typeof REFS) => dashboardBody(refs).widgets.filter((w) => w.type === 'metric')
      .flatMap((w) => (w.properties.metrics as unknown[][])).filter((row) => row[0] === METRICS_NAMESPACE).map((row) => row[1]);
    expect([...new Set(names({ ...REFS, reencrypt: true }))].sort()).toEqual([...METRIC_NAMES].sort());
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

  it('lays the widgets out on the 24-unit grid without overlap', () => {
    for (const widget of body.widgets) expect(widget.x + widget.width).toBeLessThanOrEqual(24);
    const cells = new Set<string>();
    for (const widget of body.widgets) {
      for (let x = widget.x; x < widget.x + widget.width; x += 1) {
        for (let y = widget.y; y < widget.y + widget.height; y += 1) {
          expect(cells.has(`${x},${y}`)).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
