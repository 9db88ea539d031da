/**
 * Re-keying findings: one log line per bucket pass and per Batch Operations job (message `objects evaluated`,
 * key `reencryption`), and the metrics `ObjectsReencrypted` and `ObjectReencryptionFailures`.
 */
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import type { ReencryptSetting } from '../config';
import type { Violation } from '../evaluate';
import type { Trigger } from '../finding';
import type { EncryptionMode } from '../modes';
import { logger, metrics } from '../telemetry';
import type { JobOutcome } from './batch-plan';
import type { SourceKind } from './classify';
import type { Target } from './coverage';
import { type CostEstimate, failures, objectsAfter, reencrypted, type Tally } from './estimate';
import type { FailedObject } from './rekey-page';

export const REENCRYPTION_MESSAGE = 'objects evaluated';
export const REENCRYPTION_KEY = 'reencryption';

/**
 * - `ESTIMATED`: report mode, nothing changed. `REENCRYPTED`: every eligible object re-keyed. `PARTIAL`: some failed.
 * - `JOB_STARTED`, `JOB_RUNNING`, `JOB_COMPLETED`, `JOB_FAILED`: a Batch Operations job for a large bucket.
 * - `SKIPPED`: nothing to do (not covered, exempt, gone, a job already ran), or not done (`violations`). `ERROR`: the guard would not act (unusable key, missing setup).
 */
export type ReencryptOutcome = 'ESTIMATED' | 'REENCRYPTED' | 'PARTIAL' | 'JOB_STARTED' | 'JOB_RUNNING' | 'JOB_COMPLETED' | 'JOB_FAILED' | 'SKIPPED' | 'ERROR';

export interface ReencryptFinding {
  schemaVersion: 1;
  bucket: string;
  account: string;
  region: string;
  trigger: Trigger | { type: 'job-tracking' };
  setting?: ReencryptSetting;
  settingSource?: 'tag' | 'account';
  mode?: EncryptionMode;
  outcome: ReencryptOutcome;
  detail?: string;
  /** Why the guard would not re-key (SKIPPED): someone outside the account would lose the objects. */
  violations?: Violation[];
  target?: Target;
  path?: 'inline' | 'batch';
  tally?: Tally;
  /** Examined objects by encryption, before and after this pass. */
  before?: Partial<Record<SourceKind, number>>;
  after?: Partial<Record<SourceKind, number>>;
  estimate?: CostEstimate;
  failedObjects?: FailedObject[];
  job?: JobOutcome;
  pages?: number;
  durationMs?: number;
}

export const countsOf = (tally: Tally): Pick<ReencryptFinding, 'before' | 'after'> => ({
  before: Object.fromEntries(Object.entries(tally.bySource).map(([kind, amount]) => [kind, amount.objects])),
  after: objectsAfter(tally),
});

/** Counted as they happen (per page), so a long pass shows progress on the dashboard. */
export const countProgress = (reencryptedObjects: number, failedObjects: number): void => {
  if (reencryptedObjects > 0) metrics.addMetric('ObjectsReencrypted', MetricUnit.Count, reencryptedObjects);
  if (failedObjects > 0) metrics.addMetric('ObjectReencryptionFailures', MetricUnit.Count, failedObjects);
};

/** The difference between two tallies, as metrics. */
export const countPage = (before: Tally, after: Tally): void => countProgress(reencrypted(after) - reencrypted(before), failures(after) - failures(before));

export const logReencryption = (finding: ReencryptFinding): void => {
  const log = finding.outcome === 'ERROR' || finding.outcome === 'PARTIAL' || finding.outcome === 'JOB_FAILED' ? logger.error.bind(logger)
    : (finding.outcome === 'ESTIMATED' && (finding.tally?.eligible.objects ?? 0) > 0) || (finding.violations?.length ?? 0) > 0 ? logger.warn.bind(logger) : logger.info.bind(logger);
  log(REENCRYPTION_MESSAGE, { [REENCRYPTION_KEY]: finding });
};
