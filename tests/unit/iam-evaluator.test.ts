/**
 * The test evaluator itself, against the IAM rules it implements
 * (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html):
 * the request matrix is only as good as these.
 */
import { denied, type Request, statementApplies } from './iam-evaluator';

const request = (context: Request['context'], overrides: Partial<Request> = {}): Request => ({
  principal: { type: 'AWS', id: 'arn:aws:sts::123456789012:assumed-role/app/s' }, action: 's3:PutObject', resource: 'arn:aws:s3:::b/k', context, ...overrides,
});
const deny = (condition: object, fields: object = {}) => ({ Effect: 'Deny', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::b/*', Condition: condition, ...fields });

describe('condition operators', () => {
  it('Null tests whether the key is present', () => {
    expect(statementApplies(deny({ Null: { 's3:x': 'true' } }), request({}))).toBe(true);
    expect(statementApplies(deny({ Null: { 's3:x': 'true' } }), request({ 's3:x': 'v' }))).toBe(false);
    expect(statementApplies(deny({ Null: { 's3:x': 'false' } }), request({ 's3:x': 'v' }))).toBe(true);
  });

  it('positive operators fail on an absent key; negated ones pass; IfExists passes', () => {
    expect(statementApplies(deny({ StringEquals: { 's3:x': 'v' } }), request({}))).toBe(false);
    expect(statementApplies(deny({ StringNotEquals: { 's3:x': 'v' } }), request({}))).toBe(true);
    expect(statementApplies(deny({ StringEqualsIfExists: { 's3:x': 'v' } }), request({}))).toBe(true);
    expect(statementApplies(deny({ StringNotEqualsIfExists: { 's3:x': 'v' } }), request({}))).toBe(true);
    expect(statementApplies(deny({ StringNotEqualsIfExists: { 's3:x': 'v' } }), request({ 's3:x': 'v' }))).toBe(false);
  });

  it('a list of values matches if any does; a negated operator if none does', () => {
    expect(statementApplies(deny({ StringEquals: { 's3:x': ['a', 'b'] } }), request({ 's3:x': 'b' }))).toBe(true);
    expect(statementApplies(deny({ StringNotEquals: { 's3:x': ['a', 'b'] } }), request({ 's3:x': 'b' }))).toBe(false);
    expect(statementApplies(deny({ StringNotEquals: { 's3:x': ['a', 'b'] } }), request({ 's3:x': 'c' }))).toBe(true);
  });

  it('every operator and every key of a statement must hold; condition keys ignore case, values do not', () => {
    const both = deny({ Null: { 's3:x': 'false' }, StringEquals: { 'S3:Y': 'v' } });
    expect(statementApplies(both, request({ 's3:x': '1', 's3:y': 'v' }))).toBe(true);
    expect(statementApplies(both, request({ 's3:x': '1', 's3:y': 'V' }))).toBe(false);
    expect(statementApplies(both, request({ 's3:y': 'v' }))).toBe(false);
  });

  it('Bool compares true/false without regard to case; StringLike and ArnLike use wildcards', () => {
    expect(statementApplies(deny({ Bool: { 'aws:SecureTransport': 'false' } }), request({ 'aws:SecureTransport': 'FALSE' }))).toBe(true);
    expect(statementApplies(deny({ StringLike: { 's3:x': 'ab*' } }), request({ 's3:x': 'abc' }))).toBe(true);
    expect(statementApplies(deny({ ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::b?' } }), request({ 'aws:SourceArn': 'arn:aws:s3:::bb' }))).toBe(true);
  });

  it('ForAnyValue needs one request value to match; ForAllValues all of them, and passes on an absent key', () => {
    expect(statementApplies(deny({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'x' } }), request({ 'aws:TagKeys': ['x', 'y'] }))).toBe(true);
    expect(statementApplies(deny({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': 'x' } }), request({}))).toBe(false);
    expect(statementApplies(deny({ 'ForAllValues:StringEquals': { 'aws:TagKeys': 'x' } }), request({ 'aws:TagKeys': ['x', 'y'] }))).toBe(false);
    expect(statementApplies(deny({ 'ForAllValues:StringEquals': { 'aws:TagKeys': 'x' } }), request({}))).toBe(true);
  });

  it('refuses an operator it does not implement rather than guess', () => {
    expect(() => statementApplies(deny({ NumericLessThan: { 's3:max-keys': '10' } }), request({ 's3:max-keys': '5' }))).toThrow(/does not implement/);
  });
});

describe('principal, action and resource', () => {
  it('"*" and {"AWS": "*"} are everyone, anonymous included; an account matches its principals; a service only itself', () => {
    const anonymous = request({}, { principal: { type: 'anonymous', id: 'anonymous' } });
    expect(statementApplies(deny({}, { Principal: { AWS: '*' } }), anonymous)).toBe(true);
    expect(statementApplies(deny({}, { Principal: { AWS: '123456789012' } }), request({}))).toBe(true);
    expect(statementApplies(deny({}, { Principal: { AWS: 'arn:aws:iam::111122223333:root' } }), request({}))).toBe(false);
    expect(statementApplies(deny({}, { Principal: { Service: 'logging.s3.amazonaws.com' } }), request({}, { principal: { type: 'Service', id: 'logging.s3.amazonaws.com' } }))).toBe(true);
  });

  it('actions match without regard to case, resources with it; Not* elements invert', () => {
    expect(statementApplies(deny({}, { Action: 'S3:put*' }), request({}))).toBe(true);
    expect(statementApplies(deny({}, { Resource: 'arn:aws:s3:::B/*' }), request({}))).toBe(false);
    expect(statementApplies(deny({}, { Action: undefined, NotAction: 's3:GetObject' }), request({}))).toBe(true);
    expect(statementApplies(deny({}, { Resource: undefined, NotResource: 'arn:aws:s3:::b/k' }), request({}))).toBe(false);
    expect(statementApplies(deny({}, { Principal: undefined, NotPrincipal: { AWS: '123456789012' } }), request({}))).toBe(false);
  });
});

it('an explicit Deny wins; Allow statements never deny', () => {
  const allow = { ...deny({}), Effect: 'Allow' };
  expect(denied([allow], request({}))).toBe(false);
  expect(denied([allow, deny({})], request({}))).toBe(true);
});
