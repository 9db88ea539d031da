/**
 * What each guardrail statement denies and what it leaves working, evaluated request by request with the
 * small IAM evaluator in iam-evaluator.ts. The statements are the ones `evaluateGuardrails` writes with every
 * policy guardrail enforced. Condition keys are those S3 sets from the request
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/amazon-s3-policy-keys.html); S3 authorises
 * CreateMultipartUpload, UploadPart, CompleteMultipartUpload and CopyObject as s3:PutObject
 * (https://docs.aws.amazon.com/AmazonS3/latest/userguide/mpuoverview.html#mpuAndPermissions) and replicas as
 * s3:ReplicateObject.
 */
import fc from 'fast-check';
import { evaluateGuardrails, type GuardrailInput, type Statement } from '../../lib/guardrails';
import { coverage } from '../../lib/policy/coverage';
import { denied, type Principal, type Request } from './iam-evaluator';
import { ACCOUNT, KEYS, REGION } from './fixtures';

const BUCKET = 'app-data';
const BUCKET_ARN = `arn:aws:s3:::${BUCKET}`;
const KEY_ID = KEYS.listed.split('/')[1];
const ALIAS = 'alias/app-data';
const ALIAS_ARN = `arn:aws:kms:${REGION}:${ACCOUNT}:${ALIAS}`;
const ENFORCED = { PUBLIC_ACCESS_BLOCK: 'off', REQUIRE_TLS: 'enforce', REQUIRE_SIGV4: 'enforce', DENY_WEAKER_UPLOADS: 'enforce' } as const;

/** The configurations of the matrix's columns, in order. */
const CONFIGURATIONS = {
  SSE_S3: { mode: 'SSE_S3' },
  AWS_MANAGED: { mode: 'SSE_KMS_AWS_MANAGED' },
  CUSTOMER_KEY: { mode: 'SSE_KMS_CUSTOMER_MANAGED', keyArn: KEYS.listed, keyAliases: [ALIAS, ALIAS_ARN] },
  DSSE: { mode: 'DSSE_KMS', keyArn: KEYS.listed, keyAliases: [ALIAS, ALIAS_ARN] },
  SSE_C: { mode: 'SSE_C' },
  SSE_C_DENY: { mode: 'SSE_C', sseCDeny: true },
} as const satisfies Record<string, Partial<GuardrailInput>>;
type Configuration = keyof typeof CONFIGURATIONS;
const COLUMNS = Object.keys(CONFIGURATIONS) as Configuration[];

const statementsFor = (configuration: Partial<GuardrailInput>): Statement[] =>
  evaluateGuardrails({ bucket: BUCKET, region: REGION, mode: 'SSE_S3', settings: ENFORCED, policy: null, ...configuration }).policyPlan?.document?.Statement ?? [];

const APP: Principal = { type: 'AWS', id: `arn:aws:sts::${ACCOUNT}:assumed-role/app/session` };
const PARTNER: Principal = { type: 'AWS', id: 'arn:aws:sts::111122223333:assumed-role/partner/session' };
const REPLICATION_ROLE: Principal = { type: 'AWS', id: `arn:aws:sts::${ACCOUNT}:assumed-role/s3-replication/s3-replication` };
const ELB_ACCOUNT: Principal = { type: 'AWS', id: 'arn:aws:iam::127311923021:root' };
const service = (id: string): Principal => ({ type: 'Service', id });
const ANONYMOUS: Principal = { type: 'anonymous', id: 'anonymous' };

/** Request headers the statements look at, by the condition key S3 sets from each. */
const HEADER_KEYS = {
  sse: 's3:x-amz-server-side-encryption',
  kmsKey: 's3:x-amz-server-side-encryption-aws-kms-key-id',
  sseC: 's3:x-amz-server-side-encryption-customer-algorithm',
} as const;
type Headers = Partial<Record<keyof typeof HEADER_KEYS, string>>;

interface Call {
  action: string;
  principal?: Principal;
  /** false: plain HTTP. */
  https?: boolean;
  signature?: 'v4' | 'v2' | 'none';
  headers?: Headers;
  /** An object key; absent: the bucket itself. */
  key?: string;
}

const request = ({ action, principal = APP, https = true, signature, headers = {}, key = 'data/file.bin' }: Call): Request => {
  const signed = signature ?? (principal.type === 'anonymous' ? 'none' : 'v4');
  return {
    principal, action, resource: key === '' ? BUCKET_ARN : `${BUCKET_ARN}/${key}`,
    context: {
      'aws:SecureTransport': String(https),
      // Present only in signed requests: an anonymous request carries no principal keys at all.
      ...(principal.type === 'anonymous' ? {} : { 'aws:PrincipalIsAWSService': String(principal.type === 'Service') }),
      // The principal's account: in signed requests by an account's principals (not by service principals).
      ...(principal.type === 'AWS' ? { 'aws:PrincipalAccount': principal.id.split(':')[4] } : {}),
      ...(signed === 'none' ? {} : { 's3:signatureversion': signed === 'v2' ? 'AWS' : 'AWS4-HMAC-SHA256' }),
      ...Object.fromEntries(Object.entries(headers).map(([header, value]) => [HEADER_KEYS[header as keyof Headers], value])),
    },
  };
};

const PUT = 's3:PutObject';
const SSE_C_HEADERS: Headers = { sseC: 'AES256' };

/**
 * `.` allowed, `D` denied, one letter per configuration:
 *   SSE_S3 · AWS_MANAGED · CUSTOMER_KEY · DSSE · SSE_C · SSE_C_DENY (SSE_C with tag encryption-guard:sse-c-deny=true)
 */
const MATRIX: [string, Call, string][] = [
  // Uploads, by the encryption they ask for.
  ['PutObject without an encryption header (the bucket default applies)', { action: PUT }, '.....D'],
  ['PutObject asking for AES256', { action: PUT, headers: { sse: 'AES256' } }, '.DDD.D'],
  ['PutObject asking for aws:kms without a key (S3 would use aws/s3)', { action: PUT, headers: { sse: 'aws:kms' } }, '..DD.D'],
  ['PutObject asking for aws:kms with the listed key ARN', { action: PUT, headers: { sse: 'aws:kms', kmsKey: KEYS.listed } }, '...D.D'],
  ['PutObject asking for aws:kms with the listed key id', { action: PUT, headers: { sse: 'aws:kms', kmsKey: KEY_ID } }, '...D.D'],
  ['PutObject asking for aws:kms with the listed key\'s alias', { action: PUT, headers: { sse: 'aws:kms', kmsKey: ALIAS } }, '...D.D'],
  ['PutObject asking for aws:kms with the listed key\'s alias ARN', { action: PUT, headers: { sse: 'aws:kms', kmsKey: ALIAS_ARN } }, '...D.D'],
  ['PutObject asking for aws:kms with another key', { action: PUT, headers: { sse: 'aws:kms', kmsKey: KEYS.otherOurs } }, '..DD.D'],
  // A bare alias name resolves in the requester's account: from another account it names that account's key.
  ['another account\'s PutObject naming the listed key\'s alias by name', { action: PUT, principal: PARTNER, headers: { sse: 'aws:kms', kmsKey: ALIAS } }, '..DD.D'],
  ['another account\'s PutObject naming the listed key\'s alias ARN', { action: PUT, principal: PARTNER, headers: { sse: 'aws:kms', kmsKey: ALIAS_ARN } }, '...D.D'],
  ['PutObject asking for aws:kms:dsse with the listed key', { action: PUT, headers: { sse: 'aws:kms:dsse', kmsKey: KEYS.listed } }, '.....D'],
  ['PutObject asking for aws:kms:dsse without a key', { action: PUT, headers: { sse: 'aws:kms:dsse' } }, '..DD.D'],
  ['PutObject with SSE-C', { action: PUT, headers: SSE_C_HEADERS }, '..DD..'],
  // Multipart uploads: every step is authorised as s3:PutObject.
  ['CreateMultipartUpload without an encryption header', { action: PUT }, '.....D'],
  ['UploadPart (no encryption headers)', { action: PUT }, '.....D'],
  ['CompleteMultipartUpload (no encryption headers)', { action: PUT }, '.....D'],
  ['CreateMultipartUpload, UploadPart with SSE-C', { action: PUT, headers: SSE_C_HEADERS }, '..DD..'],
  ['CompleteMultipartUpload resending the SSE-C headers', { action: PUT, headers: SSE_C_HEADERS }, '..DD..'],
  ['a presigned PutObject URL (SigV4, HTTPS, no headers)', { action: PUT, signature: 'v4' }, '.....D'],
  // Everyone else who must keep working.
  ['GetObject over HTTPS', { action: 's3:GetObject' }, '......'],
  ['GetObject by another account over HTTPS', { action: 's3:GetObject', principal: PARTNER }, '......'],
  ['anonymous GetObject over HTTPS (left to Block Public Access)', { action: 's3:GetObject', principal: ANONYMOUS }, '......'],
  ['replication writing a replica (s3:ReplicateObject)', { action: 's3:ReplicateObject', principal: REPLICATION_ROLE }, '......'],
  ['S3 server access logs delivered by logging.s3.amazonaws.com', { action: PUT, principal: service('logging.s3.amazonaws.com') }, '......'],
  ['CloudTrail delivering with its own KMS key', { action: PUT, principal: service('cloudtrail.amazonaws.com'), headers: { sse: 'aws:kms', kmsKey: KEYS.otherOurs } }, '......'],
  ['ELB access logs by the service principal', { action: PUT, principal: service('logdelivery.elasticloadbalancing.amazonaws.com') }, '......'],
  ['ELB access logs by a legacy ELB account (no headers)', { action: PUT, principal: ELB_ACCOUNT }, '.....D'],
  ['managing the bucket over HTTPS (GetBucketEncryption)', { action: 's3:GetEncryptionConfiguration', key: '' }, '......'],
  // What the guardrails are for.
  ['GetObject over plain HTTP', { action: 's3:GetObject', https: false }, 'DDDDDD'],
  ['anonymous GetObject over plain HTTP', { action: 's3:GetObject', principal: ANONYMOUS, https: false }, 'DDDDDD'],
  ['PutBucketPolicy over plain HTTP', { action: 's3:PutBucketPolicy', https: false, key: '' }, 'DDDDDD'],
  ['GetObject signed with SigV2', { action: 's3:GetObject', signature: 'v2' }, 'DDDDDD'],
];

describe('request matrix: what each configuration\'s statements deny', () => {
  const statements = Object.fromEntries(COLUMNS.map((column) => [column, statementsFor(CONFIGURATIONS[column])])) as Record<Configuration, Statement[]>;

  it.each(MATRIX)('%s', (_, call, expected) => {
    const outcome = COLUMNS.map((column) => (denied(statements[column], request(call)) ? 'D' : '.')).join('');
    expect(`${outcome}  (${COLUMNS.join(' ')})`).toBe(`${expected}  (${COLUMNS.join(' ')})`);
  });

  it('a static website bucket keeps answering plain-HTTP visitors and CloudFront website origins', () => {
    const website = statementsFor({ mode: 'SSE_KMS_AWS_MANAGED', website: true });
    expect(website.map((s) => s.Sid)).not.toContain('EncryptionGuardRequireTls');
    expect(denied(website, request({ action: 's3:GetObject', principal: ANONYMOUS, https: false, key: 'index.html' }))).toBe(false);
    expect(denied(website, request({ action: 's3:GetObject', signature: 'v2' }))).toBe(true); // SigV4 still required of signed requests
  });
});

/** What the guardrails promise, written independently of the statements: the request must be denied. */
const mustDeny = (configuration: Configuration, req: Request): boolean => {
  const context = req.context;
  if (context['aws:SecureTransport'] === 'false' || context['s3:signatureversion'] === 'AWS') return true;
  if (req.action !== PUT || req.principal.type === 'Service') return false;
  const sse = context[HEADER_KEYS.sse] as string | undefined;
  const kmsKey = context[HEADER_KEYS.kmsKey] as string | undefined;
  const sseC = context[HEADER_KEYS.sseC] !== undefined;
  switch (configuration) {
    case 'SSE_S3': case 'SSE_C': return false;
    case 'SSE_C_DENY': return !sseC;
    case 'AWS_MANAGED': return sse !== undefined && !['aws:kms', 'aws:kms:dsse'].includes(sse);
    case 'CUSTOMER_KEY': case 'DSSE': {
      const allowed = configuration === 'DSSE' ? ['aws:kms:dsse'] : ['aws:kms', 'aws:kms:dsse'];
      const listedKey = [KEYS.listed, KEY_ID, ALIAS, ALIAS_ARN];
      // A bare alias name names the listed key only for a principal of the key's own account.
      const foreignAliasName = kmsKey === ALIAS && context['aws:PrincipalAccount'] !== KEYS.listed.split(':')[4];
      return (sse !== undefined && !allowed.includes(sse)) || (kmsKey !== undefined && !listedKey.includes(kmsKey)) || (sse !== undefined && kmsKey === undefined) || sseC || foreignAliasName;
    }
  }
};

describe('request matrix properties (fast-check)', () => {
  const configuration = fc.constantFrom(...COLUMNS);
  const principal = fc.constantFrom(APP, PARTNER, REPLICATION_ROLE, ELB_ACCOUNT, ANONYMOUS, service('logging.s3.amazonaws.com'), service('cloudtrail.amazonaws.com'));
  const headers = fc.record({
    sse: fc.constantFrom('AES256', 'aws:kms', 'aws:kms:dsse', 'aws:fsx'),
    kmsKey: fc.constantFrom(KEYS.listed, KEY_ID, ALIAS, ALIAS_ARN, KEYS.otherOurs, 'alias/aws/s3', KEYS.foreign),
    sseC: fc.constant('AES256'),
  }, { requiredKeys: [] });
  const bucketActions = ['s3:ListBucket', 's3:PutBucketPolicy', 's3:GetEncryptionConfiguration'];
  const call = fc.record({
    action: fc.constantFrom(PUT, 's3:GetObject', 's3:ReplicateObject', 's3:DeleteObject', ...bucketActions),
    principal,
    https: fc.boolean(),
    signature: fc.constantFrom<Call['signature']>('v4', 'v2', undefined),
    headers,
    key: fc.string({ minLength: 1, maxLength: 12 }),
  }).map((generated) => (bucketActions.includes(generated.action) ? { ...generated, key: '' } : generated));
  const statements = Object.fromEntries(COLUMNS.map((column) => [column, statementsFor(CONFIGURATIONS[column])])) as Record<Configuration, Statement[]>;

  it('never denies a legitimate request: HTTPS, SigV4 or anonymous, and an upload asking for nothing weaker than the mode', () => {
    fc.assert(fc.property(configuration, call, (column, generated) => {
      const req = request(generated);
      fc.pre(!mustDeny(column, req));
      expect(denied(statements[column], req)).toBe(false);
    }), { numRuns: 2000 });
  });

  it('denies exactly what the guardrails promise, no more and no less', () => {
    fc.assert(fc.property(configuration, call, (column, generated) => {
      const req = request(generated);
      expect(denied(statements[column], req)).toBe(mustDeny(column, req));
    }), { numRuns: 2000 });
  });

  it('an owner\'s statement counted as the guard\'s TLS statement denies at least everything the guard\'s would', () => {
    const guards = statementsFor({ mode: 'SSE_S3' }).filter((s) => s.Sid === 'EncryptionGuardRequireTls');
    const owners = fc.record({
      Effect: fc.constant('Deny'),
      Principal: fc.constantFrom<unknown>('*', { AWS: '*' }, { AWS: ['*'] }, { AWS: '111122223333' }),
      Action: fc.constantFrom<unknown>('s3:*', '*', ['s3:*'], 'S3:*', 's3:GetObject', ['s3:Get*', 's3:Put*']),
      Resource: fc.constantFrom<unknown>(
        [BUCKET_ARN, `${BUCKET_ARN}/*`], `${BUCKET_ARN}*`, 'arn:aws:s3:::*', '*', `${BUCKET_ARN}/*`, `${BUCKET_ARN}/logs/*`,
        ['arn:aws:s3:::other', 'arn:aws:s3:::other/*'], 'arn:aws:s3:::app-*', `${BUCKET_ARN}?*`, 'arn:aws:s3:::*/*',
      ),
      Condition: fc.constantFrom<unknown>(
        { Bool: { 'aws:SecureTransport': 'false' } }, { Bool: { 'aws:SecureTransport': false } }, { Bool: { 'aws:securetransport': ['false'] } },
        { Bool: { 'aws:SecureTransport': 'false' }, StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } }, { Bool: { 'aws:SecureTransport': 'true' } },
      ),
    }) as fc.Arbitrary<Statement>;
    fc.assert(fc.property(owners, fc.array(call, { minLength: 1, maxLength: 20 }), (owner, calls) => {
      fc.pre(coverage(owner, BUCKET_ARN, { operator: 'Bool', key: 'aws:SecureTransport', value: 'false', ignoreCase: true }).kind === 'equivalent');
      for (const generated of calls) {
        const req = request(generated);
        if (denied(guards, req)) expect(denied([owner], req)).toBe(true);
      }
    }), { numRuns: 300 });
  });
});
