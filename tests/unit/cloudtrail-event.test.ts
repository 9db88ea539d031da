/**
 * Specification of `parseBucketEvent`: from an EventBridge "AWS API Call via CloudTrail" event to the
 * bucket the guard must look at, or the reason the event is ignored. Checked against every sample in
 * events/ (the same files `serverless invoke local -p` uses) and against malformed or hostile input.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { bucketNameProblem, type ParsedEvent, parseBucketEvent, TRIGGER_EVENT_NAMES } from '../../lib/cloudtrail-event';

const ACCOUNT = '123456789012';
const EVENTS_DIR = join(__dirname, '..', '..', 'events');

type Json = Record<string, any>;
const sample = (name: string): Json => JSON.parse(readFileSync(join(EVENTS_DIR, name), 'utf8')) as Json;
/** A deep copy of a sample with its detail changed: every test starts from a realistic event. */
const variant = (name: string, change: (event: Json) => void): Json => {
  const event = structuredClone(sample(name));
  change(event);
  return event;
};
const parse = (event: unknown): ParsedEvent => parseBucketEvent(event, ACCOUNT);
const reasonOf = (result: ParsedEvent): string => {
  if (result.ok) throw new Error(`expected the event to be ignored, but it names bucket ${result.trigger.bucket}`);
  return result.reason;
};

const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Samples the guard acts on: the bucket, call and actor each must yield. */
const POSITIVES = [
  { file: 'create-bucket.json', eventName: 'CreateBucket', bucket: 'guard-demo-new-bucket', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deploy/gha-deploy-9f3c1a2b` },
  { file: 'create-bucket-iam-user.json', eventName: 'CreateBucket', bucket: 'example-app-logs-2026', actor: `arn:aws:iam::${ACCOUNT}:user/alice` },
  { file: 'create-bucket-root.json', eventName: 'CreateBucket', bucket: 'example-root-made-bucket-2026', actor: `arn:aws:iam::${ACCOUNT}:root` },
  { file: 'put-bucket-encryption.json', eventName: 'PutBucketEncryption', bucket: 'example-app-logs-2026', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'delete-bucket-encryption.json', eventName: 'DeleteBucketEncryption', bucket: 'example-app-logs-2026', actor: `arn:aws:iam::${ACCOUNT}:user/alice` },
  { file: 'put-bucket-tagging.json', eventName: 'PutBucketTagging', bucket: 'example-data-lake-raw-2026', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deploy/gha-deploy-51e0d7c4` },
  { file: 'delete-bucket-tagging.json', eventName: 'DeleteBucketTagging', bucket: 'example-data-lake-raw-2026', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'tag-resource.json', eventName: 'TagResource', bucket: 'example-abac-analytics-2026', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'untag-resource.json', eventName: 'UntagResource', bucket: 'example-abac-analytics-2026', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/ci-deploy/gha-deploy-7c2e94ab` },
  { file: 'put-bucket-policy.json', eventName: 'PutBucketPolicy', bucket: 'example-shared-reports', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'delete-bucket-policy.json', eventName: 'DeleteBucketPolicy', bucket: 'example-shared-reports', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'put-public-access-block.json', eventName: 'PutBucketPublicAccessBlock', bucket: 'example-static-site', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'delete-public-access-block.json', eventName: 'DeleteBucketPublicAccessBlock', bucket: 'example-static-site', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'put-bucket-website.json', eventName: 'PutBucketWebsite', bucket: 'example-static-site', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
  { file: 'delete-bucket-website.json', eventName: 'DeleteBucketWebsite', bucket: 'example-static-site', actor: `arn:aws:sts::${ACCOUNT}:assumed-role/AWSReservedSSO_AdministratorAccess_0a1b2c3d4e5f6a7b/jane.doe@example.com` },
] as const;

/** Samples the guard must ignore (before any AWS call), and why. */
const NEGATIVES = [
  { file: 'failed-call.json', reason: /^the CreateBucket call failed \(AccessDenied\)$/ },
  { file: 'read-only-call.json', reason: /"GetBucketEncryption" is not one the guard acts on/ },
  { file: 'non-s3-event.json', reason: /^source is "aws\.ec2", not aws\.s3$/ },
  { file: 'other-account.json', reason: /event of account 111122223333; the guard acts only in 123456789012/ },
] as const;

/** Not ignored by the parser: the EventBridge rule keeps the guard's own calls away (tests/template). */
const FILTERED_BY_THE_RULE_ONLY = ['guard-own-role.json'];
const SQS_BATCH = 'sqs-batch.json';

describe('the sample events in events/', () => {
  it('are all covered by this specification', () => {
    const covered = [...POSITIVES.map((p) => p.file), ...NEGATIVES.map((n) => n.file), ...FILTERED_BY_THE_RULE_ONLY, SQS_BATCH];
    const files = readdirSync(EVENTS_DIR).filter((file) => file.endsWith('.json'));
    expect(files.sort()).toEqual(covered.sort());
  });

  it.each(readdirSync(EVENTS_DIR).filter((file) => file.endsWith('.json') && file !== SQS_BATCH))(
    '%s is a CloudTrail event as EventBridge delivers it, in account 123456789012 and us-east-1 unless it says otherwise',
    (file) => {
      const event = sample(file);
      expect(event).toMatchObject({ version: '0', 'detail-type': 'AWS API Call via CloudTrail', region: 'us-east-1' });
      expect(event.id).toMatch(UUID_V4);
      expect(event.detail.eventID).toMatch(UUID_V4);
      expect(event.detail).toMatchObject({ eventType: 'AwsApiCall', managementEvent: true, eventCategory: 'Management', awsRegion: 'us-east-1' });
      expect(event.detail.recipientAccountId).toBe(event.account);
      expect(event.time).toBe(event.detail.eventTime);
      expect(typeof event.detail.readOnly).toBe('boolean');
    },
  );

  describe.each(POSITIVES)('$file', ({ file, eventName, bucket, actor }) => {
    it(`names bucket ${bucket}, call ${eventName}, its region, event id and actor`, () => {
      const event = sample(file);
      expect(parse(event)).toEqual({
        ok: true,
        trigger: { bucket, account: '123456789012', region: 'us-east-1', eventName, eventId: event.detail.eventID, actor, eventTime: event.detail.eventTime },
      });
    });
  });

  describe.each(NEGATIVES)('$file', ({ file, reason }) => {
    it('is ignored with a reason that says why, and keeps the event id for the log', () => {
      const event = sample(file);
      const result = parse(event);
      expect(result).toEqual({ ok: false, reason: expect.stringMatching(reason), eventId: event.detail.eventID });
    });
  });

  it('guard-own-role.json parses (the parser does not know the role): keeping it out is the rule\'s job', () => {
    const event = sample('guard-own-role.json');
    expect(event.detail.userIdentity.sessionContext.sessionIssuer.arn).toBe(`arn:aws:iam::${ACCOUNT}:role/s3-encryption-guard/s3-encryption-guard-dev-us-east-1-lambdaRole`);
    expect(parse(event)).toMatchObject({ ok: true, trigger: { bucket: 'guard-demo-new-bucket', eventName: 'PutBucketEncryption' } });
  });

  it('ignores a call recorded in one account on a bucket CloudTrail says another account owns: the owner\'s record covers it', () => {
    const event = sample('create-bucket.json');
    const changed = { ...event, detail: { ...event.detail, eventName: 'PutBucketPolicy', resources: [{ accountId: '444455556666', type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::guard-demo-new-bucket' }] } };
    for (const accepted of ['123456789012', 'any']) {
      expect(parseBucketEvent(changed, accepted)).toMatchObject({ ok: false, reason: 'bucket guard-demo-new-bucket belongs to account 444455556666, not to 123456789012 where the call was recorded' });
    }
    const owned = { ...changed, detail: { ...changed.detail, resources: [{ accountId: '123456789012', type: 'AWS::S3::Bucket', ARN: 'arn:aws:s3:::guard-demo-new-bucket' }] } };
    expect(parseBucketEvent(owned, '123456789012')).toMatchObject({ ok: true });
  });

  describe('the hub (any account, checked against its scope later)', () => {
    it('accepts an event of another account and names that account', () => {
      expect(parseBucketEvent(sample('other-account.json'), 'any')).toMatchObject({ ok: true, trigger: { bucket: 'example-partner-bucket-2026', account: '111122223333' } });
    });

    it.each([
      ['an account that is not 12 digits', { account: '1111-2222-3333' }, {}, /account 1111-2222-3333 is not a 12-digit account id/],
      ['two different accounts', { account: '111122223333' }, { recipientAccountId: '444455556666' }, /event names two accounts \(111122223333 and 444455556666\)/],
      ['no account at all', { account: undefined }, { recipientAccountId: undefined }, /event names no account/],
    ])('ignores an event with %s', (_, envelope, detail, reason) => {
      const event = sample('create-bucket.json');
      const changed = { ...event, ...envelope, detail: { ...event.detail, ...detail } };
      expect(parseBucketEvent(JSON.parse(JSON.stringify(changed)), 'any')).toMatchObject({ ok: false, reason: expect.stringMatching(reason) });
    });
  });

  it('other-account.json is acted on by the guard of account 111122223333, and only by it', () => {
    expect(parseBucketEvent(sample('other-account.json'), '111122223333')).toMatchObject({ ok: true, trigger: { bucket: 'example-partner-bucket-2026' } });
  });

  describe('sqs-batch.json (what the settle queue hands to enforceBucket)', () => {
    const batch = sample(SQS_BATCH) as { Records: Array<{ body: string; eventSource: string }> };

    it('holds SQS records whose JSON bodies are CreateBucket events for two different buckets', () => {
      expect(batch.Records.every((record) => record.eventSource === 'aws:sqs')).toBe(true);
      const jsonBodies = batch.Records.filter((record) => record.body.startsWith('{')).map((record) => parse(JSON.parse(record.body)));
      expect(jsonBodies).toEqual([
        { ok: true, trigger: expect.objectContaining({ bucket: 'example-app-logs-2026', eventName: 'CreateBucket' }) },
        { ok: true, trigger: expect.objectContaining({ bucket: 'example-data-lake-raw-2026', eventName: 'CreateBucket' }) },
      ]);
    });

    it('holds one record whose body is not JSON (the handler ignores it, the parser never sees it)', () => {
      const notJson = batch.Records.filter((record) => {
        try {
          JSON.parse(record.body);
          return false;
        } catch {
          return true;
        }
      });
      expect(notJson).toHaveLength(1);
    });

    it('is not itself an EventBridge event', () => {
      expect(reasonOf(parse(batch))).toBe('source is null, not aws.s3');
    });
  });
});

describe('malformed input never throws and never names a bucket', () => {
  it.each([
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', JSON.stringify(sample('create-bucket.json'))],
    ['an empty array', []],
    ['an array holding a valid event', [sample('create-bucket.json')]],
  ])('%s is not an event', (_, input) => {
    expect(parse(input)).toEqual({ ok: false, reason: 'event is not an object' });
  });

  it('an empty object has the wrong source', () => {
    expect(reasonOf(parse({}))).toBe('source is null, not aws.s3');
  });

  it('a wrong detail-type is ignored', () => {
    expect(reasonOf(parse(variant('create-bucket.json', (e) => { e['detail-type'] = 'Object Created'; })))).toMatch(/detail-type/);
  });

  it.each([
    ['missing', undefined],
    ['null', null],
    ['an array', [{ eventName: 'CreateBucket' }]],
    ['a JSON string', JSON.stringify(sample('create-bucket.json').detail)],
  ])('a detail that is %s is ignored', (_, detail) => {
    const event = variant('create-bucket.json', (e) => { e.detail = detail; });
    expect(parse(event)).toEqual({ ok: false, reason: 'event has no detail' });
  });

  it('an S3 Express (directory bucket) event source is ignored', () => {
    const event = variant('create-bucket.json', (e) => { e.detail.eventSource = 's3express.amazonaws.com'; });
    expect(reasonOf(parse(event))).toBe('detail.eventSource is not s3.amazonaws.com');
  });

  it.each([
    ['a call the guard does not act on', 'PutBucketLifecycleConfiguration'],
    ['a differently cased name', 'createbucket'],
    ['a name inside an array', ['CreateBucket']],
    ['no name', undefined],
  ])('%s is ignored', (_, eventName) => {
    const event = variant('create-bucket.json', (e) => { e.detail.eventName = eventName; });
    expect(reasonOf(parse(event))).toMatch(/is not one the guard acts on$/);
  });

  it('acts on exactly the calls of TRIGGER_EVENT_NAMES', () => {
    expect([...TRIGGER_EVENT_NAMES].sort()).toEqual([
      'CreateBucket', 'DeleteBucketEncryption', 'DeleteBucketPolicy', 'DeleteBucketPublicAccessBlock', 'DeleteBucketTagging', 'DeleteBucketWebsite',
      'PutBucketEncryption', 'PutBucketPolicy', 'PutBucketPublicAccessBlock', 'PutBucketTagging', 'PutBucketWebsite', 'TagResource', 'UntagResource',
    ]);
  });

  describe('failed calls', () => {
    it.each(['AccessDenied', 'BucketAlreadyExists', 'InvalidBucketName', 'OperationAborted'])('a %s error is ignored, naming the code', (code) => {
      const event = variant('create-bucket.json', (e) => { e.detail.errorCode = code; e.detail.errorMessage = 'failed'; });
      expect(reasonOf(parse(event))).toBe(`the CreateBucket call failed (${code})`);
    });

    it('an errorMessage without errorCode is still a failure', () => {
      const event = variant('put-bucket-encryption.json', (e) => { e.detail.errorMessage = 'The XML you provided was not well-formed'; });
      expect(reasonOf(parse(event))).toBe('the PutBucketEncryption call failed (error)');
    });

    it('an errorCode that is not a string does not crash the parser', () => {
      const event = variant('create-bucket.json', (e) => { e.detail.errorCode = { code: 'AccessDenied' }; });
      expect(reasonOf(parse(event))).toBe('the CreateBucket call failed (error)');
    });
  });

  it('a read-only call is ignored even when its name is one the guard acts on', () => {
    const event = variant('put-bucket-encryption.json', (e) => { e.detail.readOnly = true; });
    expect(reasonOf(parse(event))).toBe('read-only call');
  });

  describe('account', () => {
    it('an envelope of another account is ignored', () => {
      const event = variant('create-bucket.json', (e) => { e.account = '999988887777'; });
      expect(reasonOf(parse(event))).toMatch(/^event of account 999988887777/);
    });

    it('a recipientAccountId of another account is ignored, even under our envelope', () => {
      const event = variant('create-bucket.json', (e) => { e.detail.recipientAccountId = '999988887777'; });
      expect(reasonOf(parse(event))).toMatch(/^event of account 999988887777/);
    });

    it('an account id that is a number, not a string, is refused as malformed', () => {
      const event = variant('create-bucket.json', (e) => { e.account = 123456789012; });
      expect(reasonOf(parse(event))).toBe('account is not a string (number)');
    });

    it('a hand-written event without account fields is accepted (invoke local)', () => {
      const event = variant('create-bucket.json', (e) => { delete e.account; delete e.detail.recipientAccountId; });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { bucket: 'guard-demo-new-bucket' } });
    });
  });

  describe('region', () => {
    it('falls back to the envelope region when awsRegion is missing', () => {
      const event = variant('create-bucket.json', (e) => { delete e.detail.awsRegion; e.region = 'eu-west-1'; });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { region: 'eu-west-1' } });
    });

    it('prefers awsRegion (where the call was made) over the envelope region', () => {
      const event = variant('create-bucket.json', (e) => { e.detail.awsRegion = 'ap-southeast-2'; });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { region: 'ap-southeast-2' } });
    });

    it.each(['us-gov-west-1', 'eu-central-2', 'ap-southeast-5', 'il-central-1', 'eusc-de-east-1', 'us-isob-east-1'])('accepts %s', (region) => {
      const event = variant('create-bucket.json', (e) => { e.detail.awsRegion = region; });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { region } });
    });

    it.each([
      'US-EAST-1',
      'us-east-1; DROP TABLE',
      'us-east-1\n',
      '../../us-east-1',
      'useast1',
      'us-east-123',
      'zz-fake-9',
    ])('ignores a malformed region %j', (region) => {
      const event = variant('create-bucket.json', (e) => { e.detail.awsRegion = region; });
      expect(parse(event)).toEqual({ ok: false, reason: 'event has no valid awsRegion', eventId: event.detail.eventID });
    });

    it('ignores an implausibly long awsRegion rather than falling back to another field', () => {
      const event = variant('create-bucket.json', (e) => { e.detail.awsRegion = 'x'.repeat(40); });
      expect(parse(event)).toEqual({ ok: false, reason: 'event has no valid awsRegion', eventId: event.detail.eventID });
    });

    it('ignores an event with no region at all', () => {
      const event = variant('create-bucket.json', (e) => { delete e.detail.awsRegion; delete e.region; });
      expect(reasonOf(parse(event))).toBe('event has no valid awsRegion');
    });
  });

  describe('requestParameters and bucket names', () => {
    it.each([
      ['missing', undefined],
      ['null (as CloudTrail writes for some calls)', null],
      ['an array', [{ bucketName: 'guard-demo-new-bucket' }]],
      ['a string', 'bucketName=guard-demo-new-bucket'],
    ])('requestParameters %s is ignored', (_, parameters) => {
      const event = variant('create-bucket.json', (e) => { e.detail.requestParameters = parameters; });
      expect(reasonOf(parse(event))).toBe('event has no requestParameters');
    });

    it.each([
      ['missing', undefined],
      ['empty', ''],
      ['a number', 1234],
      ['an array', ['guard-demo-new-bucket']],
      ['longer than 255 characters', 'a'.repeat(256)],
    ])('a bucketName that is %s names no bucket', (_, bucketName) => {
      const event = variant('create-bucket.json', (e) => { e.detail.requestParameters.bucketName = bucketName; });
      expect(reasonOf(parse(event))).toBe('event names no bucket');
    });

    it.each([
      ['a path', '../../etc/passwd', /characters S3 does not allow/],
      ['an object key', 'guard-demo-new-bucket/secret.txt', /characters S3 does not allow/],
      ['upper case', 'Guard-Demo-Bucket', /characters S3 does not allow/],
      ['an underscore', 'guard_demo_bucket', /characters S3 does not allow/],
      ['a space', 'guard demo', /characters S3 does not allow/],
      ['a NUL byte', 'guard\u0000demo', /characters S3 does not allow/],
      ['a newline (log forging)', 'guard-demo\n{"level":"INFO"}', /characters S3 does not allow/],
      ['markup', '<script>alert(1)</script>', /characters S3 does not allow/],
      ['a non-ASCII letter', 'bücket-name', /characters S3 does not allow/],
      ['a leading hyphen', '-guard-demo', /characters S3 does not allow/],
      ['a trailing dot', 'guard-demo.', /characters S3 does not allow/],
      ['two characters', 'ab', /3 to 63 characters/],
      ['64 characters', 'a'.repeat(64), /3 to 63 characters/],
      ['two adjacent dots', 'guard..demo', /not valid/],
      ['an IP address', '192.168.10.4', /not valid/],
      ['the xn-- prefix', 'xn--bcket-name', /reserved by S3/],
      ['the sthree- prefix', 'sthree-bucket', /reserved by S3/],
      ['an access point alias suffix', 'my-ap-abcdefgh-s3alias', /reserved by S3/],
      ['an Object Lambda alias suffix', 'my-ap-abcdef--ol-s3', /reserved by S3/],
    ])('a bucket name with %s is ignored (outside us-east-1)', (_, bucketName, reason) => {
      const event = variant('create-bucket.json', (e) => { e.detail.requestParameters.bucketName = bucketName; e.detail.awsRegion = 'eu-west-1'; });
      expect(reasonOf(parse(event))).toMatch(reason);
    });

    // Buckets made in us-east-1 before 2018-03-01 may have uppercase letters, underscores and up to 255
    // characters (https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html#legacybucketnamingrules):
    // the sweep lists them, and their events are handled too.
    it.each(['Guard-Demo-Bucket', 'guard_demo_bucket', 'a'.repeat(64), `Legacy_${'x'.repeat(200)}`])('the legacy us-east-1 name %j is accepted there', (bucketName) => {
      const event = variant('create-bucket.json', (e) => { e.detail.requestParameters.bucketName = bucketName; });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { bucket: bucketName, region: 'us-east-1' } });
    });

    it.each(['Guard..Bucket', '_leading-underscore', 'x'.repeat(256), 'Guard Bucket'])('not even a legacy name: %j is ignored in us-east-1 too', (bucketName) => {
      const event = variant('create-bucket.json', (e) => { e.detail.requestParameters.bucketName = bucketName; });
      expect(parse(event).ok).toBe(false);
    });

    it.each(['abc', 'a'.repeat(63), 'logs.example.com', '0-9-bucket', 'my-bucket-2026'])('a valid name %j is accepted', (bucketName) => {
      const event = variant('create-bucket.json', (e) => { e.detail.requestParameters.bucketName = bucketName; });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { bucket: bucketName } });
    });

    it.each(['x--use1-az4--x-s3', 'analytics-base--usw2-az1--x-s3'])('the directory bucket %s is out of scope', (bucketName) => {
      const event = variant('create-bucket.json', (e) => { e.detail.requestParameters.bucketName = bucketName; });
      expect(reasonOf(parse(event))).toBe('directory buckets (s3express) are out of scope');
    });

    it('bucketNameProblem agrees with the parser on every name it accepts', () => {
      for (const { bucket } of POSITIVES) expect(bucketNameProblem(bucket)).toBeUndefined();
    });
  });

  describe('TagResource and UntagResource (S3 Control, for buckets with ABAC)', () => {
    it.each([
      ['a general purpose bucket ARN', 'arn:aws:s3:::example-abac-analytics-2026', 'example-abac-analytics-2026'],
      ['a percent-encoded bucket ARN', 'arn%3Aaws%3As3%3A%3A%3Aexample-abac-analytics-2026', 'example-abac-analytics-2026'],
      ['a bucket ARN in the China partition', 'arn:aws-cn:s3:::example-abac-analytics-2026', 'example-abac-analytics-2026'],
    ])('%s names the bucket', (_, resourceArn, bucket) => {
      const event = variant('tag-resource.json', (e) => { e.detail.requestParameters.resourceArn = resourceArn; });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { bucket, eventName: 'TagResource' } });
    });

    it('accepts the ARN under ResourceArn too', () => {
      const event = variant('untag-resource.json', (e) => {
        e.detail.requestParameters.ResourceArn = e.detail.requestParameters.resourceArn;
        delete e.detail.requestParameters.resourceArn;
      });
      expect(parse(event)).toMatchObject({ ok: true, trigger: { bucket: 'example-abac-analytics-2026', eventName: 'UntagResource' } });
    });

    it.each([
      ['an access point', 'arn:aws:s3:us-east-1:123456789012:accesspoint/finance-ap'],
      ['an object', 'arn:aws:s3:::example-abac-analytics-2026/reports/2026.csv'],
      ['an encoded object', 'arn%3Aaws%3As3%3A%3A%3Aexample-abac-analytics-2026%2Freports'],
      ['a Storage Lens group', 'arn:aws:s3:us-east-1:123456789012:storage-lens-group/slg-1'],
      ['an Access Grants instance', 'arn:aws:s3:us-east-1:123456789012:access-grants/default'],
      ['a directory bucket', 'arn:aws:s3express:us-east-1:123456789012:bucket/x--use1-az4--x-s3'],
      ['a KMS key', 'arn:aws:kms:us-east-1:123456789012:key/1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d'],
      ['broken percent-encoding', 'arn%3Aaws%3As3%3A%3A%3A%E0%A4%A'],
      ['no ARN at all', undefined],
    ])('%s is not a general purpose bucket', (_, resourceArn) => {
      const event = variant('tag-resource.json', (e) => { e.detail.requestParameters.resourceArn = resourceArn; });
      expect(reasonOf(parse(event))).toBe('resource is not a general purpose bucket');
    });

    it('does not take a bucketName parameter in place of the resource ARN', () => {
      const event = variant('tag-resource.json', (e) => {
        delete e.detail.requestParameters.resourceArn;
        e.detail.requestParameters.bucketName = 'example-abac-analytics-2026';
      });
      expect(reasonOf(parse(event))).toBe('resource is not a general purpose bucket');
    });

    it('checks the name inside a bucket ARN like any other name', () => {
      const event = variant('tag-resource.json', (e) => { e.detail.requestParameters.resourceArn = 'arn:aws:s3:::x--use1-az4--x-s3'; });
      expect(reasonOf(parse(event))).toBe('directory buckets (s3express) are out of scope');
      const upper = variant('tag-resource.json', (e) => { e.detail.requestParameters.resourceArn = 'arn:aws:s3:::Not_A_Bucket'; e.detail.awsRegion = 'eu-west-1'; });
      expect(reasonOf(parse(upper))).toBe('bucket name has characters S3 does not allow');
    });
  });

  describe('event time (the start of the exposure window)', () => {
    const eventTimeOf = (eventTime: unknown): string | undefined => {
      const result = parse(variant('create-bucket.json', (e) => { e.detail.eventTime = eventTime; }));
      if (!result.ok) throw new Error(result.reason);
      return result.trigger.eventTime;
    };

    it('keeps CloudTrail\'s eventTime (ISO 8601, UTC) as it came', () => {
      expect(eventTimeOf('2026-03-02T09:14:06Z')).toBe('2026-03-02T09:14:06Z');
      expect(eventTimeOf('2026-03-02T09:14:06.123Z')).toBe('2026-03-02T09:14:06.123Z');
    });

    it('leaves out a missing, unparseable, non-UTC or implausibly long eventTime: the event is still handled, without exposure figures', () => {
      for (const eventTime of [undefined, '', 'yesterday', 42, { at: 'now' }, '2026-03-02T10:14:06+01:00', '2026-13-45T99:00:00Z', `2026-03-02T09:14:06Z${' '.repeat(80)}`]) {
        expect(eventTimeOf(eventTime)).toBeUndefined();
      }
    });
  });

  describe('actor and event id', () => {
    it('falls back from the ARN to the principal id, then invokedBy, then the identity type', () => {
      const actorOf = (userIdentity: unknown): string | undefined => {
        const result = parse(variant('create-bucket.json', (e) => { e.detail.userIdentity = userIdentity; }));
        if (!result.ok) throw new Error(result.reason);
        return result.trigger.actor;
      };
      expect(actorOf({ type: 'AssumedRole', principalId: 'AROAEXAMPLE:session', arn: 'arn:aws:sts::123456789012:assumed-role/r/session' })).toBe('arn:aws:sts::123456789012:assumed-role/r/session');
      expect(actorOf({ type: 'FederatedUser', principalId: '123456789012:bob' })).toBe('123456789012:bob');
      expect(actorOf({ type: 'AWSService', invokedBy: 'cloudformation.amazonaws.com' })).toBe('cloudformation.amazonaws.com');
      expect(actorOf({ type: 'AWSAccount' })).toBe('AWSAccount');
      expect(actorOf(undefined)).toBeUndefined();
      expect(actorOf('arn:aws:iam::123456789012:user/alice')).toBeUndefined();
      expect(actorOf({ arn: 42, principalId: ['x'] })).toBeUndefined();
    });

    it('leaves out an event id that is not a string or is implausibly long', () => {
      for (const eventID of [42, { id: 'x' }, 'e'.repeat(129)]) {
        const result = parse(variant('create-bucket.json', (e) => { e.detail.eventID = eventID; }));
        expect(result).toMatchObject({ ok: true });
        expect(result.ok && 'eventId' in result.trigger).toBe(false);
        const ignored = parse(variant('failed-call.json', (e) => { e.detail.eventID = eventID; }));
        expect(ignored).toEqual({ ok: false, reason: expect.any(String) });
      }
    });
  });

  it('keeps reasons short, whatever the event carries', () => {
    const long = 'x'.repeat(10_000);
    const events = [
      variant('create-bucket.json', (e) => { e.source = long; }),
      variant('create-bucket.json', (e) => { e.detail.eventName = long; }),
      variant('create-bucket.json', (e) => { e.detail.errorCode = long; }),
      variant('create-bucket.json', (e) => { e.account = long; }),
    ];
    for (const event of events) expect(reasonOf(parse(event)).length).toBeLessThanOrEqual(200);
  });

  it('never throws, and only ever names a valid bucket in a valid region, for arbitrary JSON in any field', () => {
    const base = sample('create-bucket.json');
    const paths: Array<(event: Json, value: unknown) => void> = [
      (e, v) => { e.detail = v; },
      (e, v) => { e.detail.requestParameters = v; },
      (e, v) => { e.detail.requestParameters.bucketName = v; },
      (e, v) => { e.detail.eventName = v; },
      (e, v) => { e.detail.awsRegion = v; },
      (e, v) => { e.detail.userIdentity = v; },
      (e, v) => { e.detail.errorCode = v; },
      (e, v) => { e.account = v; },
    ];
    fc.assert(fc.property(
      fc.integer({ min: 0, max: paths.length - 1 }),
      fc.oneof(fc.jsonValue(), fc.string(), fc.constantFrom('x--use1-az4--x-s3', '..', 'a.b', 'A', '')),
      (index, value) => {
        const event = structuredClone(base);
        paths[index](event, value);
        const result = parse(event);
        if (result.ok) {
          expect(bucketNameProblem(result.trigger.bucket, result.trigger.region)).toBeUndefined();
          expect(result.trigger.region).toMatch(/^[a-z]{2,4}(-[a-z]+)+-\d{1,2}$/);
        } else {
          expect(typeof result.reason).toBe('string');
        }
      },
    ), { numRuns: 500 });
    fc.assert(fc.property(fc.jsonValue(), (value) => {
      expect(parse(value).ok).toBe(false);
    }));
  });
});
