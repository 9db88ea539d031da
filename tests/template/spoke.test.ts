/**
 * The spoke template (deploy/spoke.yml): up to date with its generator, clean under cfn-lint, deployed to
 * the right places by its conditions, and a member role only the hub's function roles can assume. (Its rule
 * pattern is run by EventBridge in event-pattern.test.ts; its permissions are compared with the hub's roles
 * in organization.test.ts.)
 */
import { readFileSync } from 'node:fs';
import { load } from 'js-yaml';
import { BUCKET_CONFIGURATION_ACTIONS, KEY_CHECK_ACTIONS } from '../../lib/organization/bucket-permissions';
import { GUARD_ROLE_PATH } from '../../lib/organization/names';
import { renderSpoke, SPOKE_PATH } from '../../scripts/build-spoke';
import { type Request, statementApplies } from '../unit/iam-evaluator';
import { asArray, expectLintClean, targetOf } from './serverless-cli';

type Json = Record<string, any>;
const HUB = '111122223333';
const MEMBER = '444455556666';
const HUB_ROLES = ['IamRoleLambdaExecution', 'SweepBucketsRole', 'SweepWorkerRole'].map((name) => `arn:aws:iam::${HUB}:role/s3-encryption-guard/s3-encryption-guard-dev-${name}`);

/** One stack instance: the values CloudFormation would give the parameters and pseudo parameters. */
interface Instance { account: string; region: string; memberRoleRegion?: string; kmsKeyArns?: string[] }
const valuesOf = ({ account, region, memberRoleRegion = 'eu-west-1', kmsKeyArns = [''] }: Instance): Record<string, unknown> => ({
  'AWS::AccountId': account, 'AWS::Region': region, 'AWS::Partition': 'aws',
  HubAccountId: HUB, HubRegion: 'eu-west-1', HubEventBusArn: `arn:aws:events:eu-west-1:${HUB}:event-bus/s3-encryption-guard-dev-hub`,
  HubRoleArns: HUB_ROLES, MemberRoleName: 's3-encryption-guard-member', MemberRoleRegion: memberRoleRegion, KmsKeyArns: kmsKeyArns,
});

/** The intrinsics the spoke uses (Ref, Fn::Sub, Fn::Join, Fn::Equals, Fn::And, Fn::Not, Fn::If on a condition), evaluated. */
const evaluate = (value: unknown, values: Record<string, unknown>, conditions: Json): any => {
  if (Array.isArray(value)) return value.map((item) => evaluate(item, values, conditions)).filter((item) => item !== NO_VALUE);
  if (typeof value !== 'object' || value === null) return value;
  const [key, argument] = Object.entries(value)[0] ?? [];
  const args = (): any[] => evaluate(argument, values, conditions);
  switch (key) {
    case 'Ref': return argument === 'AWS::NoValue' ? NO_VALUE : values[argument as string];
    case 'Fn::Sub': return (argument as string).replace(/\$\{([\w:]+)\}/g, (_, name: string) => String(values[name]));
    case 'Fn::Join': { const [separator, items] = args(); return (items as string[]).join(separator); }
    case 'Fn::Equals': { const [left, right] = args(); return left === right; }
    case 'Fn::And': return args().every(Boolean);
    case 'Fn::Not': return !args()[0];
    case 'Fn::If': { const [condition, ifTrue, ifFalse] = argument as unknown[]; return evaluate(conditionHolds(condition as string, values, conditions) ? ifTrue : ifFalse, values, conditions); }
    default: return Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, evaluate(inner, values, conditions)]));
  }
};
const NO_VALUE = Symbol('AWS::NoValue');
const conditionHolds = (name: string, values: Record<string, unknown>, conditions: Json): boolean => Boolean(evaluate(conditions[name], values, conditions));

describe('the spoke template (deploy/spoke.yml)', () => {
  const text = readFileSync(SPOKE_PATH, 'utf8');
  const spoke = load(text) as Json;
  /** The resources one stack instance creates, its intrinsics evaluated. */
  const deployed = (instance: Instance): Record<string, Json> => {
    const values = valuesOf(instance);
    return Object.fromEntries(Object.entries(spoke.Resources as Record<string, Json>)
      .filter(([, resource]) => resource.Condition === undefined || conditionHolds(resource.Condition, values, spoke.Conditions))
      .map(([id, resource]) => [id, evaluate(resource, values, spoke.Conditions)]));
  };

  it('is what `npm run build:spoke` writes from the code (run it after changing lib/organization/)', () => {
    expect(text).toBe(renderSpoke());
  });

  it('passes cfn-lint', () => {
    expectLintClean(SPOKE_PATH);
  }, 120_000);

  it('is plain CloudFormation: no Lambda, no macro, no transform', () => {
    expect(spoke.Transform).toBeUndefined();
    expect(Object.values(spoke.Resources as Record<string, Json>).map((resource) => resource.Type).filter((type) => /Lambda|Serverless/.test(type))).toEqual([]);
  });

  it('forwards events in every region of every account but the hub\'s home region, and creates the member role once per member account', () => {
    const forwarding = ['ForwardBucketEventsRule', 'ForwardBucketEventsRole', 'ForwardDeadLetterQueue', 'ForwardDeadLetterQueuePolicy'];
    expect(Object.keys(deployed({ account: MEMBER, region: 'eu-west-1' })).sort()).toEqual([...forwarding, 'MemberRole'].sort());
    expect(Object.keys(deployed({ account: MEMBER, region: 'us-east-1' })).sort()).toEqual([...forwarding].sort());
    expect(Object.keys(deployed({ account: HUB, region: 'us-east-1' })).sort()).toEqual([...forwarding].sort());
    // The hub's home region: the hub's own rule takes them; the hub acts in its own account as itself.
    expect(Object.keys(deployed({ account: HUB, region: 'eu-west-1' }))).toEqual([]);
  });

  it('forwards to the hub bus through its own role, at the guard path, allowed only to put events on that bus; undeliverable events go to a dead-letter queue only that rule may fill', () => {
    const resources = deployed({ account: MEMBER, region: 'us-east-1' });
    const [target] = resources.ForwardBucketEventsRule.Properties.Targets;
    expect(target.Arn).toBe(valuesOf({ account: MEMBER, region: 'us-east-1' }).HubEventBusArn);
    expect(targetOf(spoke.Resources.ForwardBucketEventsRule.Properties.Targets[0].RoleArn)).toBe('ForwardBucketEventsRole');
    expect(targetOf(spoke.Resources.ForwardBucketEventsRule.Properties.Targets[0].DeadLetterConfig.Arn)).toBe('ForwardDeadLetterQueue');
    const role = resources.ForwardBucketEventsRole.Properties;
    expect(role.RoleName).toBeUndefined(); // one per stack instance: IAM names are global, the rule is regional
    expect(role.Path).toBe(GUARD_ROLE_PATH);
    expect(role.AssumeRolePolicyDocument.Statement).toEqual([expect.objectContaining({ Principal: { Service: 'events.amazonaws.com' }, Condition: { StringEquals: { 'aws:SourceAccount': MEMBER } } })]);
    expect(role.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement)).toEqual([{ Effect: 'Allow', Action: 'events:PutEvents', Resource: target.Arn }]);
    expect(resources.ForwardDeadLetterQueue.Properties.SqsManagedSseEnabled).toBe(true);
    const [grant] = spoke.Resources.ForwardDeadLetterQueuePolicy.Properties.PolicyDocument.Statement;
    expect(targetOf(grant.Condition.ArnEquals['aws:SourceArn'])).toBe('ForwardBucketEventsRule');
  });

  describe('the member role', () => {
    const role = () => deployed({ account: MEMBER, region: 'eu-west-1', kmsKeyArns: ['arn:aws:kms:eu-west-1:999988887777:key/1111aaaa-0000-4000-8000-000000000001'] }).MemberRole.Properties;
    const assume = (principal: string): Request => ({
      principal: { type: 'AWS', id: principal }, action: 'sts:AssumeRole', resource: `arn:aws:iam::${MEMBER}:role/s3-encryption-guard/s3-encryption-guard-member`,
      context: { 'aws:PrincipalArn': principal, 'aws:PrincipalAccount': principal.split(':')[4] },
    });
    /** A trust policy names no Resource: it is the role's own. */
    const trusted = (principal: string): boolean => role().AssumeRolePolicyDocument.Statement
      .some((statement: Json) => statement.Effect === 'Allow' && statementApplies({ ...statement, Resource: assume(principal).resource }, assume(principal)));

    it('is named MemberRoleName at the guard path: the ARN the hub assumes', () => {
      expect(role()).toMatchObject({ RoleName: 's3-encryption-guard-member', Path: GUARD_ROLE_PATH });
    });

    it.each(HUB_ROLES)('may be assumed by the hub role %s', (arn) => {
      expect(trusted(arn)).toBe(true);
    });

    it.each([
      ['another role of the hub account', `arn:aws:iam::${HUB}:role/admin`],
      ['a hub role name outside the guard path', `arn:aws:iam::${HUB}:role/s3-encryption-guard-dev-IamRoleLambdaExecution`],
      ['a role of the same name in another account', `arn:aws:iam::999988887777:role/s3-encryption-guard/s3-encryption-guard-dev-SweepWorkerRole`],
      ['a role of the member account itself', `arn:aws:iam::${MEMBER}:role/s3-encryption-guard/s3-encryption-guard-dev-SweepWorkerRole`],
    ])('may not be assumed by %s', (_, arn) => {
      expect(trusted(arn)).toBe(false);
    });

    it('trusts the hub account with a condition on aws:PrincipalArn, not the roles as principals (survives their re-creation)', () => {
      expect(role().AssumeRolePolicyDocument.Statement).toEqual([{
        Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${HUB}:root` }, Action: 'sts:AssumeRole', Condition: { ArnEquals: { 'aws:PrincipalArn': HUB_ROLES } },
      }]);
    });

    it('may change bucket configuration, describe this account\'s and the listed keys, list aliases and buckets — nothing else', () => {
      const statements: Json[] = role().Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement);
      expect(statements).toEqual([
        { Effect: 'Allow', Action: [...BUCKET_CONFIGURATION_ACTIONS], Resource: 'arn:aws:s3:::*' },
        { Effect: 'Allow', Action: [...KEY_CHECK_ACTIONS], Resource: `arn:aws:kms:*:${MEMBER}:key/*` },
        { Effect: 'Allow', Action: [...KEY_CHECK_ACTIONS], Resource: ['arn:aws:kms:eu-west-1:999988887777:key/1111aaaa-0000-4000-8000-000000000001'] },
        { Effect: 'Allow', Action: 'kms:ListAliases', Resource: '*' },
        { Effect: 'Allow', Action: 's3:ListAllMyBuckets', Resource: '*' },
      ]);
      const withoutKeys = deployed({ account: MEMBER, region: 'eu-west-1' }).MemberRole.Properties.Policies.flatMap((policy: Json) => policy.PolicyDocument.Statement);
      expect(withoutKeys).toHaveLength(4);
      expect(withoutKeys.flatMap((statement: Json) => asArray(statement.Resource))).not.toContain('');
    });
  });
});
