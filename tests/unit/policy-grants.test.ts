import { grantsOutsideAccount } from '../../lib/policy-grants';
import { ACCOUNT, FOREIGN_ACCOUNT } from './fixtures';

const policy = (...statements: object[]): string => JSON.stringify({ Version: '2012-10-17', Statement: statements });

describe('who a bucket policy lets in from outside the account', () => {
  it('names AWS service principals and other accounts that are allowed', () => {
    expect(grantsOutsideAccount(policy(
      { Effect: 'Allow', Principal: { Service: 'logdelivery.elasticloadbalancing.amazonaws.com' }, Action: 's3:PutObject', Resource: '*' },
      { Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${FOREIGN_ACCOUNT}:root`, `arn:aws:iam::${ACCOUNT}:role/app`] }, Action: 's3:GetObject', Resource: '*' },
    ), ACCOUNT)).toEqual(['logdelivery.elasticloadbalancing.amazonaws.com', `arn:aws:iam::${FOREIGN_ACCOUNT}:root`]);
  });

  it('names "*" (anyone) and a bare account id', () => {
    expect(grantsOutsideAccount(policy({ Effect: 'Allow', Principal: '*' }, { Effect: 'Allow', Principal: { AWS: FOREIGN_ACCOUNT } }), ACCOUNT)).toEqual(['*', FOREIGN_ACCOUNT]);
  });

  it('ignores Deny statements, the account\'s own principals, no policy and unparsable text', () => {
    expect(grantsOutsideAccount(policy({ Effect: 'Deny', Principal: '*' }, { Effect: 'Allow', Principal: { AWS: ACCOUNT } }), ACCOUNT)).toEqual([]);
    expect(grantsOutsideAccount(undefined, ACCOUNT)).toEqual([]);
    expect(grantsOutsideAccount('{not json', ACCOUNT)).toEqual([]);
  });
});
