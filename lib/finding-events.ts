/**
 * Findings that need attention, as custom events on the account's default event bus (source
 * `s3-encryption-guard`, detail-type `Bucket Encryption Finding`, detail = the finding), so users route
 * them to Security Hub, chat or tickets with a rule of their own. The guard's own rule matches only
 * `aws.s3` events, so these never come back to it.
 *
 * Publishing is best effort and never fails an invocation: the finding is already in the log and the
 * metrics; an event that cannot be sent is logged with the reason.
 */
import type { EventBridgeClient, PutEventsRequestEntry, PutEventsResultEntry } from '@aws-sdk/client-eventbridge';
import { batchesWithin } from './batches';
import { forEachLimit } from './concurrency';
import type { Finding } from './finding';
import { eventBridgeSdk } from './sdk';

export const FINDING_EVENT_SOURCE = 's3-encryption-guard';
export const FINDING_EVENT_DETAIL_TYPE = 'Bucket Encryption Finding';
/** Log message for events that could not be published. */
export const FINDING_EVENTS_NOT_PUBLISHED = 'finding events not published';

/** PutEvents accepts at most 10 entries per request ... */
export const MAX_ENTRIES_PER_REQUEST = 10;
/** ... whose sizes, counted as EventBridge counts them (entrySize), must stay below 256 KB in all. */
export const MAX_REQUEST_BYTES = 256 * 1024;
/** A violation's detail is cut to this length in an event that is too large otherwise. */
const MAX_VIOLATION_DETAIL = 1024;
/** Requests in flight at once: a sweep page can buffer hundreds of findings. */
const CONCURRENT_REQUESTS = 4;
/** Unpublished findings named in one log line; the count covers all of them. */
const LOGGED_FAILURES = 50;

/** NONCOMPLIANT, ERROR, FAILED, WOULD_REMEDIATE: what someone may have to act on. COMPLIANT and EXEMPT are not published. */
export const needsAttention = (finding: Pick<Finding, 'verdict' | 'action'>): boolean =>
  finding.verdict === 'NONCOMPLIANT' || finding.verdict === 'ERROR' || finding.action === 'FAILED' || finding.action === 'WOULD_REMEDIATE';

/** An oversized finding without its bulky parts: `omitted` names what was left out. */
export type FindingEventDetail = Finding & { omitted?: string[] };

const utf8Bytes = (text: string | undefined): number => (text === undefined ? 0 : Buffer.byteLength(text, 'utf8'));

/** The size EventBridge counts for an entry (Time 14 bytes; Source, DetailType, Detail, Resources in UTF-8). */
export const entrySize = (entry: PutEventsRequestEntry): number =>
  (entry.Time ? 14 : 0) + utf8Bytes(entry.Source) + utf8Bytes(entry.DetailType) + utf8Bytes(entry.Detail)
  + (entry.Resources ?? []).reduce((sum, resource) => sum + utf8Bytes(resource), 0);

/** What routing and acting on a finding needs; the rules and policies read and written are what make one large. */
const essentials = (finding: Finding): Finding => ({
  schemaVersion: finding.schemaVersion,
  bucket: finding.bucket,
  account: finding.account,
  region: finding.region,
  trigger: finding.trigger,
  ...(finding.mode !== undefined ? { mode: finding.mode } : {}),
  ...(finding.modeSource !== undefined ? { modeSource: finding.modeSource } : {}),
  verdict: finding.verdict,
  violations: finding.violations,
  action: finding.action,
  ...(finding.exemptReason !== undefined ? { exemptReason: finding.exemptReason } : {}),
  durationMs: finding.durationMs,
});

const entryFor = (detail: FindingEventDetail): PutEventsRequestEntry => ({
  Source: FINDING_EVENT_SOURCE,
  DetailType: FINDING_EVENT_DETAIL_TYPE,
  Detail: JSON.stringify(detail),
});

const fits = (entry: PutEventsRequestEntry): boolean => entrySize(entry) < MAX_REQUEST_BYTES;

/**
 * The event of one finding (on the default bus: no EventBusName). An oversized finding keeps its
 * essentials (and says what it left out) rather than being dropped; undefined only if even those do not fit.
 */
export const findingEvent = (finding: Finding): PutEventsRequestEntry | undefined => {
  const full = entryFor(finding);
  if (fits(full)) return full;
  const reduced = essentials(finding);
  const omitted = Object.keys(finding).filter((key) => !(key in reduced));
  const withoutBulk = entryFor({ ...reduced, omitted });
  if (fits(withoutBulk)) return withoutBulk;
  const cut = reduced.violations.map((violation) => (violation.detail.length > MAX_VIOLATION_DETAIL
    ? { ...violation, detail: `${violation.detail.slice(0, MAX_VIOLATION_DETAIL)}… (cut)` } : violation));
  const shortened = entryFor({ ...reduced, violations: cut, omitted });
  return fits(shortened) ? shortened : undefined;
};

/** Consecutive entries in requests of at most 10 entries and under 256 KB each. */
export const batches = <T extends { entry: PutEventsRequestEntry }>(items: readonly T[]): T[][] =>
  batchesWithin(items, (item) => entrySize(item.entry), { maxItems: MAX_ENTRIES_PER_REQUEST, maxBytes: MAX_REQUEST_BYTES });

export interface Unpublished {
  bucket: string;
  verdict: Finding['verdict'];
  action: Finding['action'];
  error: string;
}

export interface FindingEventPublisher {
  /** Keeps the finding for the next flush if it needs attention. */
  add(finding: Finding): void;
  /** Sends what was kept. Never throws: what could not be sent is logged. */
  flush(): Promise<void>;
}

export interface PublisherLog {
  error(message: string, details: Record<string, unknown>): void;
}

interface Pending {
  finding: Finding;
  entry: PutEventsRequestEntry;
}

const describeError = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

const unpublished = (finding: Finding, error: string): Unpublished =>
  ({ bucket: finding.bucket, verdict: finding.verdict, action: finding.action, error });

/**
 * Sends one request; entries EventBridge reports as failed (throttling, internal failure) are sent once
 * more, as its documentation asks. Returns what was not published.
 */
const send = async (client: EventBridgeClient, items: readonly Pending[], retried = false): Promise<Unpublished[]> => {
  let results: PutEventsResultEntry[];
  try {
    ({ Entries: results = [] } = await client.send(new (eventBridgeSdk().PutEventsCommand)({ Entries: items.map((item) => item.entry) })));
  } catch (error) {
    return items.map((item) => unpublished(item.finding, describeError(error)));
  }
  // The response lists one result per entry, in the order sent; a failed one has an ErrorCode.
  const failed = items.map((item, index) => ({ item, result: results[index] }))
    .filter(({ result }) => !result || result.ErrorCode || !result.EventId);
  if (failed.length === 0) return [];
  if (!retried) return send(client, failed.map(({ item }) => item), true);
  return failed.map(({ item, result }) => unpublished(item.finding, result?.ErrorCode ? `${result.ErrorCode}: ${result.ErrorMessage ?? ''}`.trim() : 'no result for the entry'));
};

export const createFindingEventPublisher = (client: () => EventBridgeClient, log: PublisherLog): FindingEventPublisher => {
  let kept: Finding[] = [];
  return {
    add(finding) {
      if (needsAttention(finding)) kept.push(finding);
    },
    async flush() {
      if (kept.length === 0) return;
      const findings = kept;
      kept = [];
      const failures: Unpublished[] = [];
      const pending: Pending[] = [];
      for (const finding of findings) {
        let entry: PutEventsRequestEntry | undefined;
        try {
          entry = findingEvent(finding);
        } catch (error) {
          failures.push(unpublished(finding, describeError(error)));
          continue;
        }
        if (entry) pending.push({ finding, entry });
        else failures.push(unpublished(finding, `larger than ${MAX_REQUEST_BYTES} bytes even without its rules and policies`));
      }
      let eventBridge: EventBridgeClient | undefined;
      try {
        eventBridge = client();
      } catch (error) {
        failures.push(...pending.map((item) => unpublished(item.finding, describeError(error))));
      }
      if (eventBridge) {
        const sender = eventBridge;
        // send() catches its own errors, so every batch is attempted.
        await forEachLimit(batches(pending), CONCURRENT_REQUESTS, async (batch) => {
          failures.push(...await send(sender, batch));
        });
      }
      if (failures.length > 0) {
        log.error(FINDING_EVENTS_NOT_PUBLISHED, { count: failures.length, findings: failures.slice(0, LOGGED_FAILURES) });
      }
    },
  };
};
