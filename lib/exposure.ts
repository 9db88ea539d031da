/**
 * The exposure window of one finding, from CloudTrail's `eventTime` of the change that triggered it
 * (README, "Exposure window"). Pure: timestamps in, the finding's timing fields out.
 *
 * - `detectedAfterMs`: eventTime → the guard started on the bucket (CloudTrail and EventBridge delivery,
 *   the settle delay, queue and function start-up).
 * - `exposureMs`: eventTime → the bucket was verified compliant; only when the guard changed it, so the
 *   figure measures exposures the guard closed, not buckets that were never exposed.
 * - `clockSkewMs`: the clocks disagree (eventTime after the guard's start): the figures are clamped at 0
 *   and the skew says by how much.
 * Sweeps have no triggering change: no fields.
 */
import type { Trigger } from './finding';

export interface ExposureFields {
  detectedAfterMs?: number;
  exposureMs?: number;
  clockSkewMs?: number;
}

/** CloudTrail's `eventTime` (ISO 8601, UTC) in epoch milliseconds, or undefined when absent or invalid. */
export const eventTimeMs = (eventTime: string | undefined): number | undefined => {
  if (eventTime === undefined) return undefined;
  const ms = Date.parse(eventTime);
  return Number.isFinite(ms) ? ms : undefined;
};

/** `fixed`: the guard changed the bucket and verified it compliant at `verifiedAt` (REMEDIATED, nothing pending). */
export const exposureOf = (trigger: Trigger, startedAt: number, verifiedAt: number, fixed: boolean): ExposureFields => {
  if (trigger.type !== 'event') return {};
  const changedAt = eventTimeMs(trigger.eventTime);
  if (changedAt === undefined) return {};
  const lag = startedAt - changedAt;
  return {
    detectedAfterMs: Math.max(0, lag),
    ...(fixed ? { exposureMs: Math.max(0, verifiedAt - changedAt) } : {}),
    ...(lag < 0 ? { clockSkewMs: -lag } : {}),
  };
};
