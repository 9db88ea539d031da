/** Where findings go: one structured log line each (Powertools Logger) and EMF metrics (Powertools Metrics). */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { type Finding, FINDING_MESSAGE, IGNORED_MESSAGE } from './finding';

export const SERVICE_NAME = 's3-encryption-guard';
export const METRICS_NAMESPACE = 'S3EncryptionGuard';
export const METRIC_NAMES = ['BucketsEvaluated', 'NonCompliantBuckets', 'BucketsRemediated', 'RemediationsFailed', 'BucketsExempt'] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

export const logger = new Logger({ serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: process.env.POWERTOOLS_SERVICE_NAME ?? SERVICE_NAME });

/** Publishes the metrics counted so far; a run that counted none (only ignored events) publishes nothing. */
export const flushMetrics = (): void => {
  if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
};

/** The metrics one finding counts towards. */
export const metricsFor = (finding: Pick<Finding, 'verdict' | 'action'>): MetricName[] => {
  const names: MetricName[] = ['BucketsEvaluated'];
  if (finding.verdict === 'NONCOMPLIANT') names.push('NonCompliantBuckets');
  if (finding.verdict === 'EXEMPT') names.push('BucketsExempt');
  if (finding.action === 'REMEDIATED') names.push('BucketsRemediated');
  if (finding.action === 'FAILED' || finding.verdict === 'ERROR') names.push('RemediationsFailed');
  return names;
};

export interface FindingSink {
  /** Counts the finding in the metrics, and logs it unless `log` is false. */
  finding(finding: Finding, log?: boolean): void;
  ignored(reason: string, eventId?: string): void;
  /** A transient failure: the event goes back to the queue (and, in the end, its dead-letter queue). */
  retrying(bucket: string, error: unknown): void;
  /** Sends what was buffered (metrics): at the end of an invocation, and after each sweep page. */
  flush(): Promise<void>;
}

export const telemetrySink: FindingSink = {
  finding(finding, logIt = true) {
    for (const name of metricsFor(finding)) metrics.addMetric(name, MetricUnit.Count, 1);
    if (!logIt) return;
    const log = finding.verdict === 'ERROR' || finding.action === 'FAILED' ? logger.error.bind(logger)
      : finding.verdict === 'NONCOMPLIANT' ? logger.warn.bind(logger) : logger.info.bind(logger);
    log(FINDING_MESSAGE, { finding });
  },
  ignored(reason, eventId) {
    logger.info(IGNORED_MESSAGE, { reason, ...(eventId ? { eventId } : {}) });
  },
  retrying(bucket, error) {
    logger.warn('bucket evaluation failed, will be retried', { bucket, error: error instanceof Error ? error : String(error) });
  },
  async flush() {
    flushMetrics();
  },
};
