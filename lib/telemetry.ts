/**
 * Where findings go: one structured log line each (Powertools Logger), EMF metrics (Powertools Metrics),
 * and — for findings that need attention — a custom event on the default event bus (finding-events.ts).
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ViolationCode } from './evaluate';
import { DUPLICATE_MESSAGE, type Finding, FINDING_MESSAGE, GONE_MESSAGE, IGNORED_MESSAGE, type Trigger } from './finding';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { createFindingEventPublisher, type FindingEventPublisher } from './finding-events';
import { MEMBER_ROLE_UNAVAILABLE } from './organization/names';
import { type CountMetric, METRICS_NAMESPACE, SERVICE_NAME, type TimingMetric } from './metric-names';

export { COUNT_METRICS, METRIC_DIMENSIONS, METRIC_NAMES, type MetricName, METRICS_NAMESPACE, SERVICE_NAME, TIMING_METRICS } from './metric-names';

/** The violation that gets its own metric (and alarm): a bucket on a key the guard must not touch. */
const FOREIGN_KEY: ViolationCode = 'FOREIGN_OR_UNUSABLE_KEY';

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });

/** Publishes the metrics counted so far; a run that counted none (only ignored events) publishes nothing. */
export const flushMetrics = (): void => {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
};

/** The metrics one finding counts towards. */
export const metricsFor = (finding: Pick<Finding, 'verdict' | 'action' | 'violations' | 'trigger'>): CountMetric[] => {
  const names: CountMetric[] = ['BucketsEvaluated'];
  if (finding.verdict === 'NONCOMPLIANT') names.push('NonCompliantBuckets');
  if (finding.verdict === 'EXEMPT') names.push('BucketsExempt');
  if (finding.action === 'REMEDIATED') names.push('BucketsRemediated');
  // Whatever the guard could not fix, flapping buckets it stopped changing included: the failure alarm.
  if (finding.action === 'FAILED' || finding.verdict === 'ERROR' || finding.violations.some((v) => v.code === 'FLAPPING')) names.push('RemediationsFailed');
  if (finding.violations.some((violation) => violation.code === FOREIGN_KEY)) names.push('ForeignOrUnusableKeyBuckets');
  if (finding.trigger.type === 'sweep' && finding.verdict === 'NONCOMPLIANT') names.push('SweepCatches');
  if (finding.violations.some((violation) => violation.code === MEMBER_ROLE_UNAVAILABLE)) names.push('MemberAccountsUnreachable');
  return names;
};

/** The durations one finding reports (milliseconds): its exposure window, when it has one. */
export const timingsFor = (finding: Pick<Finding, 'detectedAfterMs' | 'exposureMs'>): Array<[TimingMetric, number]> => [
  ...(finding.detectedAfterMs !== undefined ? [['DetectionLag', finding.detectedAfterMs] as [TimingMetric, number]] : []),
  ...(finding.exposureMs !== undefined ? [['ExposureWindow', finding.exposureMs] as [TimingMetric, number]] : []),
];

export type NotEvaluated =
  | { kind: 'duplicate'; bucket: string; eventId: string }
  | { kind: 'gone'; bucket: string; detail: string; trigger?: Trigger };

export interface FindingSink {
  /** Counts the finding in the metrics, keeps it for publishing if it needs attention, and logs it unless `log` is false. */
  finding(finding: Finding, log?: boolean): void;
  ignored(reason: string, eventId?: string): void;
  /**
   * A bucket the guard did not evaluate: a losing duplicate delivery (the winning delivery logs the
   * finding), or a bucket that does not exist. One short line; no finding, no metric.
   */
  notEvaluated(what: NotEvaluated): void;
  /** A transient failure: the event goes back to the queue (and, in the end, its dead-letter queue). */
  retrying(bucket: string, error: unknown): void;
  /** Sends what was buffered (metrics, finding events): at the end of an invocation, and after each sweep page. Never throws. */
  flush(): Promise<void>;
}

/**
 * The sink the functions use. `events` publishes findings that need attention; without it (tests,
 * scripts) findings are only logged and counted.
 */
export const createTelemetrySink = (events?: FindingEventPublisher): FindingSink => ({
  finding(finding, logIt = true) {
    for (const name of metricsFor(finding)) metrics.addMetric(name, MetricUnit.Count, 1);
    for (const [name, ms] of timingsFor(finding)) metrics.addMetric(name, MetricUnit.Milliseconds, ms);
    events?.add(finding);
    if (!logIt) return;
    const log = finding.verdict === 'ERROR' || finding.action === 'FAILED' ? logger.error.bind(logger)
      : finding.verdict === 'NONCOMPLIANT' ? logger.warn.bind(logger) : logger.info.bind(logger);
    log(FINDING_MESSAGE, { finding });
  },
  ignored(reason, eventId) {
    logger.info(IGNORED_MESSAGE, { reason, ...(eventId ? { eventId } : {}) });
  },
  notEvaluated(what) {
    if (what.kind === 'duplicate') logger.info(DUPLICATE_MESSAGE, { bucket: what.bucket, eventId: what.eventId });
    else logger.info(GONE_MESSAGE, { bucket: what.bucket, reason: what.detail, ...(what.trigger ? { trigger: what.trigger } : {}) });
  },
  retrying(bucket, error) {
    logger.warn('bucket evaluation failed, will be retried', { bucket, error: error instanceof Error ? error : String(error) });
  },
  async flush() {
    flushMetrics();
    await events?.flush();
  },
});

/** The deployed functions' sink: Powertools log and metrics, and finding events on the default bus. */
export const deployedSink = (events: () => EventBridgeClient): FindingSink =>
  createTelemetrySink(createFindingEventPublisher(events, logger));
