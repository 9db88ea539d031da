/**
 * An S3 Batch Operations completion report, read back for the failed tasks' reasons. Pure: the
 * `manifest.json` at `<prefix>/job-<id>/` names the result CSVs, one `failed` per job with failures, whose
 * rows are `Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage`
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html).
 */
import type { FailedObject } from './rekey-page';

/** Result files of failed tasks named by the report's manifest, as `{ bucket, key }`. */
export const failedResultFiles = (manifest: string): { bucket: string; key: string }[] => {
  try {
    const parsed = JSON.parse(manifest) as { Results?: { TaskExecutionStatus?: string; Bucket?: string; Key?: string }[] };
    return (parsed.Results ?? [])
      .filter((result) => result.TaskExecutionStatus === 'failed' && result.Bucket && result.Key)
      .map((result) => ({ bucket: result.Bucket!, key: result.Key! }));
  } catch {
    return [];
  }
};

/** One CSV line's fields (RFC 4180 quoting: "" inside quotes is a quote). */
const fields = (line: string): string[] => {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') { field += '"'; i++; } else if (char === '"') quoted = false; else field += char;
    } else if (char === '"') quoted = true;
    else if (char === ',') { out.push(field); field = ''; } else field += char;
  }
  out.push(field);
  return out;
};

/** The failed tasks of one result CSV. Keys are URL-encoded in the report. */
export const failedTasks = (csv: string): FailedObject[] =>
  csv.split(/\r?\n/).filter((line) => line.trim() !== '').flatMap((line) => {
    const [, key = '', versionId = '', status = '', errorCode = '', httpStatus = '', message = ''] = fields(line);
    if (status.toLowerCase() !== 'failed') return [];
    let decoded = key;
    try {
      decoded = decodeURIComponent(key.replace(/\+/g, ' '));
    } catch {
      // shown as written
    }
    return [{ key: decoded, ...(versionId ? { versionId } : {}), code: errorCode || httpStatus || 'Unknown', detail: message || `HTTP ${httpStatus}` }];
  });

export interface FailureSummary {
  /** Failed objects by reason (`code: detail`), most frequent first. */
  byReason: { reason: string; objects: number }[];
  /** A few of the failed objects, with their reasons. */
  sample: FailedObject[];
}

export const summariseFailures = (tasks: readonly FailedObject[], sampleSize = 10): FailureSummary => {
  const counts = new Map<string, number>();
  for (const task of tasks) {
    const reason = `${task.code}: ${task.detail}`.slice(0, 300);
    counts.set(reason, (counts.get(reason) ?? 0) + 1);
  }
  return {
    byReason: [...counts].sort((a, b) => b[1] - a[1]).map(([reason, objects]) => ({ reason, objects })),
    sample: tasks.slice(0, sampleSize),
  };
};
