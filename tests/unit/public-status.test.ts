/**
 * "Is this bucket policy public?" as S3 decides it for BlockPublicPolicy: the rules and examples of
 * https://docs.aws.amazon.com/AmazonS3/latest/userguide/access-control-block-public-access.html#access-control-block-public-access-policy-status
 */
import { isPublicStatement, publicStatements } from '../../lib/policy/public-status';

const allow = (fields: Record<string, unknown>) => ({ Effect: 'Allow', Resource: '*', Action: 's3:PutObject', ...fields });

describe('the AWS documentation\'s examples', () => {
  it.each([
    ['a web identity provider', allow({ Principal: { Federated: 'graph.facebook.com' } })],
    ['everyone', allow({ Principal: '*' })],
    ['everyone, in VPCs matching a wildcard', allow({ Principal: '*', Condition: { StringLike: { 'aws:SourceVpc': 'vpc-*' } } })],
  ])('public: %s', (_, statement) => {
    expect(isPublicStatement(statement)).toBe(true);
  });

  it('non-public: everyone, in one fixed VPC', () => {
    expect(isPublicStatement(allow({ Principal: '*', Condition: { StringEquals: { 'aws:SourceVpc': 'vpc-91237329' } } }))).toBe(false);
  });
});

describe('fixed values', () => {
  it.each([
    ['an account', { AWS: 'arn:aws:iam::111122223333:root' }],
    ['a role and a service principal', { AWS: ['arn:aws:iam::111122223333:role/reader'], Service: 'logging.s3.amazonaws.com' }],
    ['a SAML provider of an account', { Federated: 'arn:aws:iam::111122223333:saml-provider/corp' }],
  ])('a fixed principal is not public: %s', (_, principal) => {
    expect(isPublicStatement(allow({ Principal: principal }))).toBe(false);
  });

  it('a wildcard or a policy variable in the principal is public', () => {
    expect(isPublicStatement(allow({ Principal: { AWS: 'arn:aws:iam::111122223333:role/*' } }))).toBe(true);
    expect(isPublicStatement(allow({ Principal: { AWS: '*' } }))).toBe(true);
  });

  it.each([
    ['aws:PrincipalOrgID', { StringEquals: { 'aws:PrincipalOrgID': 'o-abc123' } }],
    ['aws:SourceAccount', { StringEquals: { 'aws:SourceAccount': '111122223333' } }],
    ['aws:SourceArn (ArnLike, no wildcard)', { ArnLike: { 'aws:SourceArn': 'arn:aws:cloudtrail:us-east-1:111122223333:trail/main' } }],
    ['aws:SourceIp /24', { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '198.51.100.7'] } }],
    ['aws:SourceIp /8', { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } }],
    ['aws:SourceIp IPv6 /48', { IpAddress: { 'aws:SourceIp': '2001:db8:1234::/48' } }],
    ['s3:DataAccessPointArn of any access point of one account', { ArnLike: { 's3:DataAccessPointArn': 'arn:aws:s3:us-west-2:123456789012:accesspoint/*' } }],
    ['s3:DataAccessPointAccount', { StringEquals: { 's3:DataAccessPointAccount': '123456789012' } }],
    ['aws:userid of one role, any session', { StringLike: { 'aws:userid': 'AROAEXAMPLEROLEID:*' } }],
    ['a key case other than the documented one', { StringEquals: { 'AWS:SourceVpce': 'vpce-1a2b3c4d' } }],
  ])('everyone, narrowed by a fixed %s, is not public', (_, condition) => {
    expect(isPublicStatement(allow({ Principal: '*', Condition: condition }))).toBe(false);
  });

  it.each([
    ['an IPv4 range broader than /8', { IpAddress: { 'aws:SourceIp': '0.0.0.0/1' } }],
    ['an IPv6 range broader than /32', { IpAddress: { 'aws:SourceIp': '2001:db8::/16' } }],
    ['one narrow and one broad range', { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24', '0.0.0.0/0'] } }],
    ['a negated operator', { StringNotEquals: { 'aws:SourceAccount': '111122223333' } }],
    ['IfExists: an absent key passes', { StringEqualsIfExists: { 'aws:SourceVpce': 'vpce-1a2b3c4d' } }],
    ['a key that is not on the list', { StringEquals: { 'aws:RequestedRegion': 'eu-west-1' } }],
    ['a policy variable', { StringEquals: { 'aws:SourceAccount': '${aws:PrincipalAccount}' } }],
    ['an access point of any account', { ArnLike: { 's3:DataAccessPointArn': 'arn:aws:s3:us-west-2:*:accesspoint/*' } }],
  ])('everyone with %s stays public', (_, condition) => {
    expect(isPublicStatement(allow({ Principal: '*', Condition: condition }))).toBe(true);
  });

  it('Allow with NotPrincipal is public; Deny statements never are', () => {
    expect(isPublicStatement(allow({ NotPrincipal: { AWS: 'arn:aws:iam::111122223333:root' } }))).toBe(true);
    expect(isPublicStatement({ Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*' })).toBe(false);
  });
});

it('lists exactly the public statements of a document', () => {
  const open = allow({ Sid: 'Open', Principal: '*' });
  const partner = allow({ Sid: 'Partner', Principal: { AWS: '111122223333' } });
  const tls = { Sid: 'EncryptionGuardRequireTls', Effect: 'Deny', Principal: '*', Action: 's3:*', Resource: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } };
  expect(publicStatements({ Statement: [partner, open, tls] })).toEqual([open]);
});
