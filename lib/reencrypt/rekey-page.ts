/**
 * One listing page: read each object's encryption, decide, and (enforce) re-key where it differs — a bounded
 * number at a time. The SDK's adaptive retries absorb throttling; what still fails transiently is thrown, so
 * the queue delivers the page again (a page done twice changes nothing the second time).
 */
import { errorMessage, errorName, httpStatus, isTransient } from '../aws-errors';
import { forEachLimit } from '../concurrency';
import { decide } from './classify';
import type { Target } from './coverage';
import { countExamined, countFailure, countListed, countReencrypted, type Tally } from './estimate';
import type { HeadResult, ListedObject } from './objects';

export interface PageDeps {
  head: (object: ListedObject) => Promise<HeadResult>;
  update: (key: string, versionId: string | undefined) => Promise<void>;
  concurrency: number;
}

export interface PageWork {
  objects: readonly ListedObject[];
  enforce: boolean;
  target: Target;
}

export interface FailedObject {
  key: string;
  versionId?: string;
  code: string;
  detail: string;
}

/** S3's documented UpdateObjectEncryption errors, as the finding names them. */
export const failureCode = (error: unknown): string => {
  const name = errorName(error);
  if (name === 'AccessDenied' || httpStatus(error) === 403) return 'ACCESS_DENIED'; // Object Lock, key policy, key of another account
  if (name === 'InvalidRequest') return 'NOT_UPDATABLE'; // the source is no longer SSE-S3 or SSE-KMS
  if (name.startsWith('KMS.')) return 'KMS_KEY_UNUSABLE';
  return name;
};

/** Deleted between the listing and the request: nothing to re-key, not a failure. */
const isGone = (error: unknown): boolean => ['NoSuchKey', 'NotFound', 'NoSuchVersion'].includes(errorName(error)) || httpStatus(error) === 404;

/** Failed objects kept for the finding (the metric counts them all). */
export const FAILURE_SAMPLES = 20;

export const rekeyPage = async (work: PageWork, before: Tally, deps: PageDeps): Promise<{ tally: Tally; failedObjects: FailedObject[] }> => {
  let tally = countListed(before, work.objects.map((object) => object.size));
  const failedObjects: FailedObject[] = [];
  const fail = (object: ListedObject, versionId: string | undefined, error: unknown): void => {
    const code = failureCode(error);
    tally = countFailure(tally, code);
    if (failedObjects.length < FAILURE_SAMPLES) failedObjects.push({ key: object.key, ...(versionId ? { versionId } : {}), code, detail: `${errorName(error)}: ${errorMessage(error)}` });
  };
  await forEachLimit(work.objects, deps.concurrency, async (object) => {
    let head: HeadResult;
    try {
      head = await deps.head(object);
    } catch (error) {
      if (isTransient(error)) throw error;
      if (isGone(error)) tally = { ...tally, vanished: tally.vanished + 1 };
      else fail(object, object.versionId, error);
      return;
    }
    const { kind, decision } = decide(head.state, work.target);
    tally = countExamined(tally, object.size, kind, decision);
    if (!work.enforce || decision.action !== 'update') return;
    try {
      await deps.update(object.key, head.versionId ?? object.versionId);
      tally = countReencrypted(tally, kind);
    } catch (error) {
      if (isTransient(error)) throw error;
      if (isGone(error)) tally = { ...tally, vanished: tally.vanished + 1 };
      else fail(object, head.versionId ?? object.versionId, error);
    }
  });
  return { tally, failedObjects };
};
