/**
 * Does a trail record the S3 calls the guard acts on, in the region it watches? EventBridge receives
 * "AWS API Call via CloudTrail" events only for calls a trail records: no logging trail, no events, and
 * the guard sees nothing but its sweeps. Pure: what CloudTrail said of each trail in, one check out.
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/event-types.html
 */
import { type Check, fail, listed, pass, warn } from './check';

/** CloudTrail's basic event selector (GetEventSelectors). */
export interface BasicSelector {
  ReadWriteType?: string;
  IncludeManagementEvents?: boolean;
}
/** CloudTrail's advanced event selector: field selectors over the event's fields. */
export interface AdvancedSelector {
  Name?: string;
  FieldSelectors?: Array<{ Field?: string; Equals?: string[]; NotEquals?: string[]; StartsWith?: string[]; NotStartsWith?: string[] }>;
}

export interface TrailFacts {
  name: string;
  homeRegion: string;
  multiRegion: boolean;
  organization: boolean;
  /** Undefined when the status could not be read (an organisation trail seen from a member account, say). */
  logging?: boolean;
  /** Undefined when the selectors could not be read. */
  selectors?: { basic: BasicSelector[]; advanced: AdvancedSelector[] };
  /** Why the status or the selectors could not be read. */
  unreadable?: string;
}

const S3 = 's3.amazonaws.com';

/** Whether basic selectors record write management events (CloudTrail's default: management events, read and write). */
const basicRecordsWrites = (selectors: readonly BasicSelector[]): boolean =>
  selectors.some((selector) => selector.IncludeManagementEvents !== false && (selector.ReadWriteType ?? 'All') !== 'ReadOnly');

/** Whether one advanced selector keeps write management events of S3. */
const advancedRecordsS3Writes = (selector: AdvancedSelector): boolean => {
  const fields = selector.FieldSelectors ?? [];
  const field = (name: string) => fields.find((candidate) => candidate.Field === name);
  const category = field('eventCategory');
  if (!category?.Equals?.includes('Management')) return false;
  const readOnly = field('readOnly');
  if (readOnly?.Equals?.includes('true') && !readOnly.Equals.includes('false')) return false;
  const source = field('eventSource');
  if (source?.NotEquals?.includes(S3)) return false;
  if (source?.Equals && !source.Equals.includes(S3)) return false;
  return true;
};

/** Whether the trail records write management events of S3 (basic or advanced selectors; none read: CloudTrail's default). */
export const recordsS3Writes = (selectors: { basic: readonly BasicSelector[]; advanced: readonly AdvancedSelector[] }): boolean => {
  if (selectors.advanced.length > 0) return selectors.advanced.some(advancedRecordsS3Writes);
  if (selectors.basic.length > 0) return basicRecordsWrites(selectors.basic);
  return true;
};

const describeTrail = (trail: TrailFacts): string =>
  `"${trail.name}" (${[trail.organization ? 'organisation' : 'account', trail.multiRegion ? 'multi-region' : `region ${trail.homeRegion}`].join(', ')})`;

export const trailCheck = (region: string, trails: readonly TrailFacts[] | { error: string }): Check => {
  const id = 'trail';
  if ('error' in trails) return warn(id, `trails could not be listed (${trails.error}): grant cloudtrail:DescribeTrails, or check in the CloudTrail console that a trail logs write management events in ${region}`);
  const covering = trails.filter((trail) => trail.multiRegion || trail.homeRegion === region);
  const working = covering.filter((trail) => trail.logging === true && trail.selectors && recordsS3Writes(trail.selectors));
  if (working.length > 0) return pass(id, `${listed(working.map(describeTrail))} logs write management events in ${region}`);

  const unknown = covering.filter((trail) => trail.logging === undefined || trail.selectors === undefined);
  if (unknown.length > 0) {
    return warn(id, `${listed(unknown.map((trail) => `${describeTrail(trail)}: ${trail.unreadable ?? 'status unknown'}`))} covers ${region}, but whether it logs write management events could not be read from this account: check it where it is managed (the organisation's management account)`);
  }
  const fix = `start logging on a trail that covers ${region} with write management events (aws cloudtrail start-logging --name …), or deploy the guard with --param="createTrail=true"`;
  if (covering.length === 0) {
    const elsewhere = trails.length ? ` (${listed(trails.map(describeTrail))} cover${trails.length === 1 ? 's' : ''} other regions only)` : '';
    return fail(id, `no trail covers ${region}${elsewhere}: the guard receives no bucket events there; ${fix}`);
  }
  const why = covering.map((trail) => `${describeTrail(trail)} ${trail.logging === false ? 'is not logging' : 'does not record write management events of S3'}`);
  return fail(id, `${listed(why)}: the guard receives no bucket events in ${region}; ${fix}`);
};
