/**
 * The guard's metrics as CloudWatch sees them: namespace, names and dimensions. Kept apart from
 * telemetry.ts (which creates the Powertools Logger and Metrics) so that deploy-time code — the
 * dashboard and the alarms, built by lib/observability.ts — reads the very same names without
 * instantiating anything.
 */

/** The service name Powertools falls back to when POWERTOOLS_SERVICE_NAME is not set. */
export const SERVICE_NAME = 's3-encryption-guard';
export const METRICS_NAMESPACE = 'S3EncryptionGuard';

/** Counts: one per finding that qualifies (lib/telemetry.ts `metricsFor`), charted and alarmed as sums. */
export const COUNT_METRICS = [
  'BucketsEvaluated',
  'NonCompliantBuckets',
  'BucketsRemediated',
  // Every ERROR verdict and FAILED action, and every FLAPPING bucket the guard stopped changing.
  'RemediationsFailed',
  'BucketsExempt',
  // Findings with the violation FOREIGN_OR_UNUSABLE_KEY (also counted in RemediationsFailed): its own
  // metric so that its alarm does not depend on the log format or the log level.
  'ForeignOrUnusableKeyBuckets',
  // Buckets the sweep found NONCOMPLIANT: each one a change the event path missed (a lost or late event)
  // or was not allowed to fix.
  'SweepCatches',
  // Existing objects re-keyed in place, and objects whose re-keying failed (lib/reencrypt/): only with reencryptObjects on.
  'ObjectsReencrypted',
  'ObjectReencryptionFailures',
  // Findings whose violations include MEMBER_ROLE_UNAVAILABLE (lib/organization/names.ts): the hub could
  // not assume an account's member role, so that account is not guarded. Hub mode only; one per finding,
  // never an account dimension (the per-account view is the Logs Insights query "Unreachable member accounts").
  'MemberAccountsUnreachable',
] as const;
export type CountMetric = (typeof COUNT_METRICS)[number];

/** Durations in milliseconds, one value per event finding (lib/exposure.ts), charted as percentiles. */
export const TIMING_METRICS = [
  // CloudTrail eventTime → the guard started on the bucket.
  'DetectionLag',
  // CloudTrail eventTime → the bucket verified compliant, when the guard changed it.
  'ExposureWindow',
] as const;
export type TimingMetric = (typeof TIMING_METRICS)[number];

export const METRIC_NAMES = [...COUNT_METRICS, ...TIMING_METRICS] as const;
export type MetricName = (typeof METRIC_NAMES)[number];

/** The metrics of re-keying existing objects: on the dashboard only where that is deployed. */
export const REENCRYPT_METRICS: readonly MetricName[] = ['ObjectsReencrypted', 'ObjectReencryptionFailures'];

/** The metrics of the organisation hub: on the dashboard only in hub mode (param organization=hub). */
export const ORGANIZATION_METRICS: readonly CountMetric[] = ['MemberAccountsUnreachable'];

/**
 * The dimensions of every metric: Powertools Metrics adds `service` (= POWERTOOLS_SERVICE_NAME) and the
 * guard adds none. A widget or alarm must name exactly these, or CloudWatch shows it no data.
 */
export const METRIC_DIMENSIONS = ['service'] as const;
