import { outsideAccess } from '../../lib/policy/outside-access';
import { ACCOUNT, FOREIGN_ACCOUNT } from './fixtures';

const policy = (...statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const put = (principal: unknown, extra: object = {}) => ({ Effect: 'Allow', Principal: principal, Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/*', ...extra });

describe('who outside the account writes or reads objects', () => {
  it('names ELB log delivery by its service principal and by the legacy ELB account of a region', () => {
    expect(outsideAccess(policy(
      put({ Service: 'logdelivery.elasticloadbalancing.amazonaws.com' }),
      put({ AWS: 'arn:aws:iam::127311923021:root' }),
    ), ACCOUNT)).toEqual([
      { principal: 'logdelivery.elasticloadbalancing.amazonaws.com', kind: 'elb-logs', writes: true, reads: false },
      { principal: 'arn:aws:iam::127311923021:root', kind: 'elb-logs', writes: true, reads: false },
    ]);
  });

  it('names other services, other accounts, organisations, anyone, and CloudFront origin access identities', () => {
    const found = outsideAccess(policy(
      put({ Service: ['logging.s3.amazonaws.com', 'cloudtrail.amazonaws.com'] }),
      put({ AWS: FOREIGN_ACCOUNT }),
      put('*', { Condition: { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } } }),
      { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' },
      { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2EXAMPLE' }, Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' },
    ), ACCOUNT);
    expect(found.map((o) => [o.principal, o.kind, o.writes, o.reads])).toEqual([
      ['logging.s3.amazonaws.com', 'service', true, false],
      ['cloudtrail.amazonaws.com', 'service', true, false],
      [FOREIGN_ACCOUNT, 'account', true, false],
      ['o-abc123', 'organization', true, false],
      ['*', 'anyone', false, true],
      ['arn:aws:iam::cloudfront:user/CloudFront Origin Access Identity E2EXAMPLE', 'cloudfront-oai', false, true],
    ]);
  });

  it.each([
    ['s3:*', true, true], ['s3:Put*', true, false], ['s3:ReplicateObject', true, false], ['S3:GETOBJECT', false, true], ['*', true, true],
  ])('reads the actions as IAM does: %s', (action, writes, reads) => {
    expect(outsideAccess(policy({ Effect: 'Allow', Principal: { AWS: FOREIGN_ACCOUNT }, Action: action, Resource: '*' }), ACCOUNT))
      .toEqual([{ principal: FOREIGN_ACCOUNT, kind: 'account', writes, reads }]);
  });

  it('merges what one principal is granted across statements', () => {
    expect(outsideAccess(policy(put({ AWS: FOREIGN_ACCOUNT }), { ...put({ AWS: FOREIGN_ACCOUNT }), Action: 's3:GetObject' }), ACCOUNT))
      .toEqual([{ principal: FOREIGN_ACCOUNT, kind: 'account', writes: true, reads: true }]);
  });

  it('leaves out this account, Deny statements, grants that touch no object data, and "*" narrowed to this account', () => {
    expect(outsideAccess(policy(
      put({ AWS: `arn:aws:iam::${ACCOUNT}:role/app` }),
      put({ AWS: ACCOUNT }),
      { ...put('*'), Effect: 'Deny' },
      { Effect: 'Allow', Principal: { AWS: FOREIGN_ACCOUNT }, Action: ['s3:ListBucket', 's3:GetBucketLocation'], Resource: 'arn:aws:s3:::b' },
      put('*', { Condition: { StringEquals: { 'aws:PrincipalAccount': ACCOUNT } } }),
      put({ AWS: '*' }, { Condition: { ArnLike: { 'aws:PrincipalArn': `arn:aws:iam::${ACCOUNT}:role/*` } } }),
    ), ACCOUNT)).toEqual([]);
  });

  it('treats NotPrincipal as everyone but those named', () => {
    expect(outsideAccess(policy({ Effect: 'Allow', NotPrincipal: { AWS: FOREIGN_ACCOUNT }, Action: 's3:PutObject', Resource: '*' }), ACCOUNT))
      .toEqual([{ principal: '*', kind: 'anyone', writes: true, reads: false }]);
  });

  it('finds nothing in no policy or in text that is not a policy', () => {
    expect(outsideAccess(null, ACCOUNT)).toEqual([]);
    expect(outsideAccess('{not json', ACCOUNT)).toEqual([]);
  });
});
