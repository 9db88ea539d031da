import { loadConfig } from '../../lib/config';
import type { BucketEncryption } from '../../lib/encryption';
import { evaluate, type EvaluationInput, keysToDescribe, type Verdict } from '../../lib/evaluate';
import type { AccountMode, EncryptionMode } from '../../lib/modes';
import type { Requirement } from '../../lib/requirement';
import { ACCOUNT, config, configFor, customerKey, KEY_FACTS, KEYS, REGION } from './fixtures';

const required = (mode: EncryptionMode, source: 'tag' | 'account' = 'account'): Requirement => ({ kind: 'mode', mode, source });

const input = (mode: AccountMode, encryption: BucketEncryption, overrides: Partial<EvaluationInput> = {}): EvaluationInput => ({
  region: REGION,
  accountId: ACCOUNT,
  requirement: required(mode),
  encryption,
  keys: KEY_FACTS,
  config: configFor(mode),
  ...overrides,
});

const STATES: Record<string, BucketEncryption> = {
  'no default encryption': undefined,
  AES256: { algorithm: 'AES256' },
  'aws:kms with the aws/s3 key': { algorithm: 'aws:kms', bucketKeyEnabled: true },
  'aws:kms with the listed key': { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true },
  'aws:kms with another key of ours': { algorithm: 'aws:kms', kmsKeyId: KEYS.otherOurs, bucketKeyEnabled: true },
  'aws:kms with a foreign key': { algorithm: 'aws:kms', kmsKeyId: KEYS.foreign, bucketKeyEnabled: true },
  'aws:kms with a disabled key': { algorithm: 'aws:kms', kmsKeyId: KEYS.disabled, bucketKeyEnabled: true },
  'aws:kms with a key pending deletion': { algorithm: 'aws:kms', kmsKeyId: KEYS.pendingDeletion, bucketKeyEnabled: true },
  'aws:kms:dsse with the listed key': { algorithm: 'aws:kms:dsse', kmsKeyId: KEYS.listed },
  'an unknown algorithm (aws:fsx)': { algorithm: 'aws:fsx' },
};

type Expectation = [Verdict, string?];
const C: Expectation = ['COMPLIANT'];
const FOREIGN: Expectation = ['ERROR', 'FOREIGN_OR_UNUSABLE_KEY'];
const UNKNOWN: Expectation = ['ERROR', 'UNKNOWN_ALGORITHM'];
const NONE: Expectation = ['NONCOMPLIANT', 'NO_DEFAULT_ENCRYPTION'];
const WEAK: Expectation = ['NONCOMPLIANT', 'ENCRYPTION_TOO_WEAK'];
const WRONG: Expectation = ['NONCOMPLIANT', 'WRONG_KMS_KEY'];

/** Rows: starting state; columns: required mode. Stronger complies only with a usable key of ours. */
const MATRIX: Record<string, Record<AccountMode, Expectation>> = {
  'no default encryption': { SSE_S3: NONE, SSE_KMS_AWS_MANAGED: NONE, SSE_KMS_CUSTOMER_MANAGED: NONE, DSSE_KMS: NONE },
  AES256: { SSE_S3: C, SSE_KMS_AWS_MANAGED: WEAK, SSE_KMS_CUSTOMER_MANAGED: WEAK, DSSE_KMS: WEAK },
  'aws:kms with the aws/s3 key': { SSE_S3: C, SSE_KMS_AWS_MANAGED: C, SSE_KMS_CUSTOMER_MANAGED: WEAK, DSSE_KMS: WEAK },
  'aws:kms with the listed key': { SSE_S3: C, SSE_KMS_AWS_MANAGED: C, SSE_KMS_CUSTOMER_MANAGED: C, DSSE_KMS: WEAK },
  'aws:kms with another key of ours': { SSE_S3: C, SSE_KMS_AWS_MANAGED: C, SSE_KMS_CUSTOMER_MANAGED: WRONG, DSSE_KMS: WEAK },
  'aws:kms with a foreign key': { SSE_S3: FOREIGN, SSE_KMS_AWS_MANAGED: FOREIGN, SSE_KMS_CUSTOMER_MANAGED: FOREIGN, DSSE_KMS: FOREIGN },
  'aws:kms with a disabled key': { SSE_S3: FOREIGN, SSE_KMS_AWS_MANAGED: FOREIGN, SSE_KMS_CUSTOMER_MANAGED: FOREIGN, DSSE_KMS: FOREIGN },
  'aws:kms with a key pending deletion': { SSE_S3: FOREIGN, SSE_KMS_AWS_MANAGED: FOREIGN, SSE_KMS_CUSTOMER_MANAGED: FOREIGN, DSSE_KMS: FOREIGN },
  'aws:kms:dsse with the listed key': { SSE_S3: C, SSE_KMS_AWS_MANAGED: C, SSE_KMS_CUSTOMER_MANAGED: C, DSSE_KMS: C },
  'an unknown algorithm (aws:fsx)': { SSE_S3: UNKNOWN, SSE_KMS_AWS_MANAGED: UNKNOWN, SSE_KMS_CUSTOMER_MANAGED: UNKNOWN, DSSE_KMS: UNKNOWN },
};

/** What each mode writes when it remediates. */
const REMEDIATION: Record<AccountMode, object> = {
  SSE_S3: { algorithm: 'AES256' },
  SSE_KMS_AWS_MANAGED: { algorithm: 'aws:kms', bucketKeyEnabled: true },
  SSE_KMS_CUSTOMER_MANAGED: { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true },
  DSSE_KMS: { algorithm: 'aws:kms:dsse', kmsKeyId: KEYS.listed },
};

describe('evaluate: every mode against every starting state', () => {
  for (const [state, row] of Object.entries(MATRIX)) {
    describe(`a bucket with ${state}`, () => {
      for (const [mode, [verdict, code]] of Object.entries(row) as [AccountMode, Expectation][]) {
        const expectation = code ? `${verdict} (${code})` : verdict;
        it(`is ${expectation} under ${mode}${verdict === 'NONCOMPLIANT' ? ', remediated to the mode\'s rule' : ', and nothing is written'}`, () => {
          const result = evaluate(input(mode, STATES[state]));
          expect(result.verdict).toBe(verdict);
          if (code) expect(result.violations.map((v) => v.code)).toContain(code);
          if (verdict === 'NONCOMPLIANT') expect(result.plan).toEqual(REMEDIATION[mode]);
          else expect(result.plan).toBeUndefined();
          if (verdict === 'COMPLIANT') expect(result.violations.filter((v) => v.severity === 'violation')).toEqual([]);
        });
      }
    });
  }
});

describe('evaluate: keys', () => {
  it('never points a bucket at a configured key that is disabled; ERROR names the problem', () => {
    const keys = new Map(KEY_FACTS).set(KEYS.listed, customerKey(KEYS.listed, { keyState: 'Disabled' }));
    const result = evaluate(input('SSE_KMS_CUSTOMER_MANAGED', { algorithm: 'AES256' }, { keys }));
    expect(result.verdict).toBe('ERROR');
    expect(result.plan).toBeUndefined();
    expect(result.violations.find((v) => v.code === 'CONFIGURED_KEY_UNUSABLE')?.detail).toMatch(/Disabled/);
  });

  it.each([
    ['pending deletion', { keyState: 'PendingDeletion' }, /PendingDeletion/],
    ['asymmetric', { keySpec: 'RSA_2048' }, /SYMMETRIC_DEFAULT/],
    ['for signing', { keyUsage: 'SIGN_VERIFY' }, /ENCRYPT_DECRYPT/],
    ['AWS managed', { keyManager: 'AWS' }, /customer managed key is required/],
  ])('refuses a configured key that is %s', (_name, overrides, problem) => {
    const keys = new Map(KEY_FACTS).set(KEYS.listed, customerKey(KEYS.listed, overrides));
    const result = evaluate(input('DSSE_KMS', undefined, { keys }));
    expect(result.verdict).toBe('ERROR');
    expect(result.plan).toBeUndefined();
    expect(result.violations.find((v) => v.code === 'CONFIGURED_KEY_UNUSABLE')?.detail).toMatch(problem);
  });

  it('reports ERROR when KMS_KEY_ARN lists no key in the bucket\'s region', () => {
    const result = evaluate(input('SSE_KMS_CUSTOMER_MANAGED', { algorithm: 'AES256' }, { config: configFor('SSE_KMS_CUSTOMER_MANAGED', { kmsKeyArns: [KEYS.listedWest] }) }));
    expect(result.verdict).toBe('ERROR');
    expect(result.violations.map((v) => v.code)).toEqual(['ENCRYPTION_TOO_WEAK', 'NO_KEY_FOR_REGION']);
  });

  it('uses the listed key of the bucket\'s region when several regions are listed', () => {
    const result = evaluate(input('SSE_KMS_CUSTOMER_MANAGED', undefined, {
      region: 'eu-west-1',
      config: configFor('SSE_KMS_CUSTOMER_MANAGED', { kmsKeyArns: [KEYS.listed, KEYS.listedWest] }),
    }));
    expect(result.plan?.kmsKeyId).toBe(KEYS.listedWest);
  });

  it('treats a key in another region than the bucket as unusable', () => {
    const result = evaluate(input('SSE_S3', { algorithm: 'aws:kms', kmsKeyId: KEYS.listedWest }, { config: configFor('SSE_S3') }));
    expect(result.verdict).toBe('ERROR');
    expect(result.violations[0].detail).toMatch(/eu-west-1/);
  });

  it('accepts a foreign key that KMS_KEY_ARN lists (a shared key the organisation chose)', () => {
    const keys = new Map(KEY_FACTS).set(KEYS.foreign, customerKey(KEYS.foreign));
    const result = evaluate(input('SSE_KMS_CUSTOMER_MANAGED', { algorithm: 'aws:kms', kmsKeyId: KEYS.foreign, bucketKeyEnabled: true }, {
      keys, config: configFor('SSE_KMS_CUSTOMER_MANAGED', { kmsKeyArns: [KEYS.foreign] }),
    }));
    expect(result.verdict).toBe('COMPLIANT');
  });

  it('counts an explicit aws/s3 key id as the AWS managed mode, not a customer key', () => {
    const result = evaluate(input('SSE_KMS_CUSTOMER_MANAGED', { algorithm: 'aws:kms', kmsKeyId: KEYS.awsManaged }));
    expect(result.verdict).toBe('NONCOMPLIANT');
    expect(result.violations[0].code).toBe('ENCRYPTION_TOO_WEAK');
  });

  it('describes the bucket\'s own key and the target key, but not a foreign key it rejects on sight', () => {
    const base = { region: REGION, accountId: ACCOUNT, requirement: required('SSE_KMS_CUSTOMER_MANAGED'), config: configFor('SSE_KMS_CUSTOMER_MANAGED') };
    expect(keysToDescribe({ ...base, encryption: { algorithm: 'aws:kms', kmsKeyId: KEYS.otherOurs } })).toEqual([KEYS.otherOurs, KEYS.listed]);
    expect(keysToDescribe({ ...base, encryption: { algorithm: 'aws:kms', kmsKeyId: KEYS.foreign } })).toEqual([KEYS.listed]);
    expect(keysToDescribe({ ...base, requirement: required('SSE_S3'), encryption: { algorithm: 'AES256' } })).toEqual([]);
  });
});

describe('evaluate: requirements other than a mode', () => {
  it('leaves exempt buckets alone', () => {
    expect(evaluate(input('SSE_S3', undefined, { requirement: { kind: 'exempt', reason: 'tag' } }))).toEqual({ verdict: 'EXEMPT', violations: [] });
  });

  it('reports an invalid mode tag as ERROR without guessing', () => {
    const result = evaluate(input('SSE_S3', undefined, { requirement: { kind: 'invalid', detail: 'bad tag' } }));
    expect(result).toEqual({ verdict: 'ERROR', violations: [expect.objectContaining({ code: 'INVALID_MODE_TAG' })] });
  });

  it('holds a bucket tagged SSE_C to at least SSE-S3 as its default rule', () => {
    const sseC = { requirement: required('SSE_C', 'tag') };
    expect(evaluate(input('SSE_S3', undefined, sseC))).toMatchObject({ verdict: 'NONCOMPLIANT', plan: { algorithm: 'AES256' } });
    expect(evaluate(input('SSE_S3', { algorithm: 'aws:kms', bucketKeyEnabled: true }, sseC)).verdict).toBe('COMPLIANT');
  });

  it('unblocks SSE-C on a bucket tagged SSE_C, whatever BLOCK_SSE_C says', () => {
    const result = evaluate(input('SSE_S3', { algorithm: 'AES256', blockedEncryptionTypes: ['SSE-C'] }, {
      requirement: required('SSE_C', 'tag'), config: config({ blockSseC: 'block' }),
    }));
    expect(result.violations).toEqual([expect.objectContaining({ code: 'SSE_C_BLOCKED', detail: expect.stringMatching(/mode SSE_C requires/) })]);
    expect(result.plan).toEqual({ algorithm: 'AES256', blockedEncryptionTypes: ['NONE'] });
  });
});

describe('evaluate: the S3 Bucket Key under a DSSE account mode', () => {
  const dsse = loadConfig({ ENCRYPTION_MODE: 'DSSE_KMS', KMS_KEY_ARN: KEYS.listed, AWS_REGION: REGION });

  it('a bucket tagged with an SSE-KMS mode still gets its bucket key', () => {
    const tagged = evaluate({ ...input('DSSE_KMS', undefined, { config: dsse }), requirement: required('SSE_KMS_CUSTOMER_MANAGED', 'tag') });
    expect(tagged.plan).toEqual({ algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true });
  });

  it('a DSSE rule never gets one (S3 Bucket Keys do not support DSSE-KMS)', () => {
    expect(evaluate(input('DSSE_KMS', undefined, { config: dsse })).plan).toEqual({ algorithm: 'aws:kms:dsse', kmsKeyId: KEYS.listed });
  });
});

describe('evaluate: BLOCK_SSE_C', () => {
  const blocked = { algorithm: 'AES256', blockedEncryptionTypes: ['SSE-C' as const] };

  it('preserve carries the bucket\'s blocked types into the rewrite', () => {
    const result = evaluate(input('SSE_KMS_AWS_MANAGED', blocked));
    expect(result.plan).toEqual({ algorithm: 'aws:kms', bucketKeyEnabled: true, blockedEncryptionTypes: ['SSE-C'] });
  });

  it('preserve writes nothing for a compliant bucket whatever it blocks', () => {
    expect(evaluate(input('SSE_S3', blocked)).plan).toBeUndefined();
    expect(evaluate(input('SSE_S3', { algorithm: 'AES256' })).plan).toBeUndefined();
  });

  it('block rewrites an otherwise compliant rule as it is, key as a full ARN, with SSE-C blocked', () => {
    const result = evaluate(input('SSE_KMS_CUSTOMER_MANAGED', { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: false }, {
      config: configFor('SSE_KMS_CUSTOMER_MANAGED', { blockSseC: 'block' }),
    }));
    expect(result.verdict).toBe('NONCOMPLIANT');
    expect(result.violations.map((v) => v.code)).toContain('SSE_C_NOT_BLOCKED');
    expect(result.plan).toEqual({ algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: false, blockedEncryptionTypes: ['SSE-C'] });
  });

  it('block adds the block to a remediation', () => {
    const result = evaluate(input('SSE_S3', undefined, { config: config({ blockSseC: 'block' }) }));
    expect(result.plan).toEqual({ algorithm: 'AES256', blockedEncryptionTypes: ['SSE-C'] });
  });

  it('block is satisfied by a bucket that already blocks SSE-C', () => {
    expect(evaluate(input('SSE_S3', blocked, { config: config({ blockSseC: 'block' }) })).verdict).toBe('COMPLIANT');
  });

  it('allow unblocks SSE-C', () => {
    const result = evaluate(input('SSE_S3', blocked, { config: config({ blockSseC: 'allow' }) }));
    expect(result.violations.map((v) => v.code)).toEqual(['SSE_C_BLOCKED']);
    expect(result.plan).toEqual({ algorithm: 'AES256', blockedEncryptionTypes: ['NONE'] });
  });

  it('never rewrites a bucket it cannot judge, whatever BLOCK_SSE_C says', () => {
    expect(evaluate(input('SSE_S3', { algorithm: 'aws:fsx' }, { config: config({ blockSseC: 'block' }) })).plan).toBeUndefined();
    expect(evaluate(input('SSE_S3', { algorithm: 'aws:kms', kmsKeyId: KEYS.foreign }, { config: config({ blockSseC: 'block' }) })).plan).toBeUndefined();
  });
});

describe('evaluate: warnings do not change the verdict', () => {
  const warningCodes = (result: ReturnType<typeof evaluate>): string[] =>
    result.violations.filter((v) => v.severity === 'warning').map((v) => v.code);

  it('warns when a compliant SSE-KMS bucket has no S3 Bucket Key', () => {
    const result = evaluate(input('SSE_KMS_AWS_MANAGED', { algorithm: 'aws:kms', bucketKeyEnabled: false }));
    expect(result.verdict).toBe('COMPLIANT');
    expect(warningCodes(result)).toEqual(['BUCKET_KEY_DISABLED']);
  });

  it('warns when the customer key does not rotate', () => {
    const keys = new Map(KEY_FACTS).set(KEYS.listed, customerKey(KEYS.listed, { rotationEnabled: false }));
    const result = evaluate(input('SSE_KMS_CUSTOMER_MANAGED', { algorithm: 'aws:kms', kmsKeyId: KEYS.listed, bucketKeyEnabled: true }, { keys }));
    expect(result.verdict).toBe('COMPLIANT');
    expect(warningCodes(result)).toEqual(['KEY_ROTATION_DISABLED']);
  });

  it('warns that KMS may break writers when the policy lets AWS services or other accounts in', () => {
    const result = evaluate(input('SSE_KMS_AWS_MANAGED', undefined, { policyGrantees: ['logdelivery.elasticloadbalancing.amazonaws.com'] }));
    expect(result.verdict).toBe('NONCOMPLIANT');
    expect(warningCodes(result)).toEqual(['KMS_MAY_BREAK_WRITERS']);
    expect(result.violations.at(-1)?.detail).toMatch(/logdelivery\.elasticloadbalancing/);
  });

  it('gives SSE-S3 buckets no KMS warnings', () => {
    expect(warningCodes(evaluate(input('SSE_S3', { algorithm: 'AES256' }, { policyGrantees: ['cloudtrail.amazonaws.com'] })))).toEqual([]);
  });
});
