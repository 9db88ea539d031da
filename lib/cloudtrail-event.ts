/**
 * From an EventBridge "AWS API Call via CloudTrail" event to the bucket it concerns — or the reason it
 * is ignored. Pure: a malformed, failed, read-only or foreign event never leads to an AWS call.
 */
import { isObject, type Json } from './json';

/** The S3 calls that can create a bucket or weaken its encryption requirement or guardrails. */
export const TRIGGER_EVENT_NAMES = [
  'CreateBucket',
  'PutBucketEncryption',
  'DeleteBucketEncryption',
  'PutBucketTagging',
  'DeleteBucketTagging',
  // Buckets with ABAC enabled are tagged only through these (S3 Control API, same event source).
  'TagResource',
  'UntagResource',
  // Guardrails and the SSE_C mode live in the bucket policy and Block Public Access.
  'PutBucketPolicy',
  'DeleteBucketPolicy',
  'PutBucketPublicAccessBlock',
  'DeleteBucketPublicAccessBlock',
  // A website endpoint serves HTTP only: whether TLS can be required changes with it.
  'PutBucketWebsite',
  'DeleteBucketWebsite',
] as const;
export type TriggerEventName = (typeof TRIGGER_EVENT_NAMES)[number];

/**
 * The bucket setting each call changes, where the guard may write it back: a write of that setting undoes
 * the caller's change (the flap ledger counts it against them). Creating or tagging a bucket changes none
 * the guard writes: remediating after it completes the set-up rather than undoing anybody's choice.
 */
const SETTING_OF: Partial<Record<string, 'encryption' | 'policy' | 'publicAccessBlock'>> = {
  PutBucketEncryption: 'encryption',
  DeleteBucketEncryption: 'encryption',
  PutBucketPolicy: 'policy',
  DeleteBucketPolicy: 'policy',
  PutBucketPublicAccessBlock: 'publicAccessBlock',
  DeleteBucketPublicAccessBlock: 'publicAccessBlock',
};
export const settingChangedBy = (eventName: string): 'encryption' | 'policy' | 'publicAccessBlock' | undefined => SETTING_OF[eventName];

export interface BucketTrigger {
  bucket: string;
  /** The account the call was made in: the bucket's owner, whose member role the hub assumes. */
  account: string;
  /** Where the call was recorded: the bucket's region unless S3 redirects. */
  region: string;
  eventName: TriggerEventName;
  eventId?: string;
  actor?: string;
  /** When the call was made (CloudTrail eventTime, ISO 8601). */
  eventTime?: string;
}

export type ParsedEvent = { ok: true; trigger: BucketTrigger } | { ok: false; reason: string; eventId?: string };

const ACCOUNT_ID = /^\d{12}$/;
/** Regions of the AWS partitions: a made-up name would only send the guard's calls nowhere. */
const REGION = /^(af|ap|ca|cn|eu|eusc|il|me|mx|sa|us)(-gov|-iso[a-z]?)?(-[a-z]+)+-\d{1,2}$/;
/** CloudTrail's eventTime: ISO 8601 in UTC, e.g. 2026-11-30T09:01:21Z. */
const EVENT_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?Z$/;
const BUCKET_ARN = /^arn:aws(?:-cn|-us-gov|-iso|-iso-b|-iso-e|-iso-f|-eusc)?:s3:::([^/]+)$/;

const str = (value: unknown, max = 2048): string | undefined =>
  typeof value === 'string' && value.length > 0 && value.length <= max ? value : undefined;

/**
 * A value from the event, safe to put in a log line: short, printable, and never walked into (a hostile
 * event may nest deeper than the stack).
 */
const show = (value: unknown): string => {
  if (typeof value === 'string') return JSON.stringify(value.length > 64 ? `${value.slice(0, 64)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return value === undefined || value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value === 'object' ? 'an object' : `a ${typeof value}`;
};
/** An error code as CloudTrail writes it (letters, digits, dots), or nothing. */
const errorCodeOf = (value: unknown): string | undefined =>
  typeof value === 'string' && /^[\w.:-]{1,64}$/.test(value) ? value : undefined;

/**
 * Buckets created in us-east-1 before 2018-03-01 may have names up to 255 characters with uppercase
 * letters and underscores (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html#legacybucketnamingrules).
 */
const LEGACY_US_EAST_1_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{1,253}[A-Za-z0-9]$/;

/** Why a name cannot be a general purpose bucket the guard handles, or undefined if it can. */
export const bucketNameProblem = (name: string, region?: string): string | undefined => {
  if (name.endsWith('--x-s3')) return 'directory buckets (s3express) are out of scope';
  if (region === 'us-east-1' && (/[A-Z_]/.test(name) || name.length > 63) && LEGACY_US_EAST_1_NAME.test(name) && !name.includes('..')) return undefined;
  if (name.length < 3 || name.length > 63) return 'bucket name must be 3 to 63 characters';
  if (!/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/.test(name)) return 'bucket name has characters S3 does not allow';
  if (name.includes('..') || /^\d+\.\d+\.\d+\.\d+$/.test(name)) return 'bucket name is not valid';
  if (/^(xn--|sthree-|amzn-s3-demo-)/.test(name) || /(-s3alias|--ol-s3|\.mrap|--table-s3)$/.test(name)) {
    return 'name is reserved by S3 (access point alias or other non-bucket resource)';
  }
  return undefined;
};

const bucketOf = (eventName: TriggerEventName, parameters: Json): string | undefined => {
  if (eventName !== 'TagResource' && eventName !== 'UntagResource') return str(parameters.bucketName, 255);
  const arn = str(parameters.resourceArn, 2048) ?? str(parameters.ResourceArn, 2048);
  if (!arn) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(arn);
  } catch {
    return undefined;
  }
  return BUCKET_ARN.exec(decoded)?.[1];
};

/** The owner CloudTrail names for the bucket in the event's `resources`, when it names one. */
const ownerOf = (resources: unknown, bucket: string): string | undefined => {
  if (!Array.isArray(resources)) return undefined;
  const entry = resources.find((resource): resource is Record<string, unknown> => isObject(resource) && resource.type === 'AWS::S3::Bucket'
    && typeof resource.ARN === 'string' && resource.ARN.endsWith(`:::${bucket}`));
  return typeof entry?.accountId === 'string' && ACCOUNT_ID.test(entry.accountId) ? entry.accountId : undefined;
};

/**
 * `accountId`: the one account whose events are accepted (the guard's own); `'any'`: events of every
 * account (the hub, which then checks the account against its scope, lib/organization/scope.ts).
 */
export const parseBucketEvent = (event: unknown, accountId: string | 'any'): ParsedEvent => {
  if (!isObject(event)) return { ok: false, reason: 'event is not an object' };
  const detail = event.detail;
  const eventId = isObject(detail) ? str(detail.eventID, 128) : undefined;
  const ignore = (reason: string): ParsedEvent => ({ ok: false, reason, ...(eventId ? { eventId } : {}) });

  if (event.source !== 'aws.s3') return ignore(`source is ${show(event.source)}, not aws.s3`);
  if (event['detail-type'] !== 'AWS API Call via CloudTrail') return ignore('detail-type is not "AWS API Call via CloudTrail"');
  if (!isObject(detail)) return ignore('event has no detail');
  if (detail.eventSource !== 's3.amazonaws.com') return ignore('detail.eventSource is not s3.amazonaws.com');
  const eventName = TRIGGER_EVENT_NAMES.find((name) => name === detail.eventName);
  if (!eventName) return ignore(`event name ${show(detail.eventName)} is not one the guard acts on`);
  if (detail.errorCode !== undefined || detail.errorMessage !== undefined) return ignore(`the ${eventName} call failed (${errorCodeOf(detail.errorCode) ?? 'error'})`);
  if (detail.readOnly === true) return ignore('read-only call');

  const accounts = [event.account, detail.recipientAccountId].filter((account) => account !== undefined);
  for (const account of accounts) {
    if (typeof account !== 'string') {
      return ignore(`account is not a string (${Array.isArray(account) ? 'a list' : account === null ? 'null' : typeof account})`);
    }
    if (accountId === 'any' ? !ACCOUNT_ID.test(account) : account !== accountId) {
      const named = /^[\w-]{1,20}$/.test(account) ? account : show(account);
      return ignore(accountId === 'any' ? `account ${named} is not a 12-digit account id` : `event of account ${named}; the guard acts only in ${accountId}`);
    }
  }
  if (accounts.length === 2 && accounts[0] !== accounts[1]) return ignore(`event names two accounts (${String(accounts[0])} and ${String(accounts[1])})`);
  const account = (accounts[0] as string | undefined) ?? (accountId === 'any' ? undefined : accountId);
  if (account === undefined) return ignore('event names no account');
  const region = detail.awsRegion ?? event.region;
  if (typeof region !== 'string' || !REGION.test(region)) return ignore('event has no valid awsRegion');

  const parameters = detail.requestParameters;
  if (!isObject(parameters)) return ignore('event has no requestParameters');
  const bucket = bucketOf(eventName, parameters);
  if (!bucket) return ignore(eventName === 'TagResource' || eventName === 'UntagResource' ? 'resource is not a general purpose bucket' : 'event names no bucket');
  const problem = bucketNameProblem(bucket, region);
  if (problem) return ignore(problem);

  // A principal of this account calling on another account's bucket: CloudTrail names the bucket's owner
  // in `resources`. Acting here would be refused (ExpectedBucketOwner) and read as an error; the owner's
  // guard, or the hub through the owner's role, evaluates the bucket from the owner's own record of the call
  // and the sweep.
  const owner = ownerOf(detail.resources, bucket);
  if (owner !== undefined && account !== undefined && owner !== account) {
    return ignore(`bucket ${bucket} belongs to account ${owner}, not to ${account} where the call was recorded`);
  }

  const identity = isObject(detail.userIdentity) ? detail.userIdentity : {};
  const actor = str(identity.arn) ?? str(identity.principalId) ?? str(identity.invokedBy) ?? str(identity.type);
  const eventTime = typeof detail.eventTime === 'string' && EVENT_TIME.test(detail.eventTime) && Number.isFinite(Date.parse(detail.eventTime)) ? detail.eventTime : undefined;
  return { ok: true, trigger: { bucket, account, region, eventName, ...(eventId ? { eventId } : {}), ...(actor ? { actor } : {}), ...(eventTime ? { eventTime } : {}) } };
};
