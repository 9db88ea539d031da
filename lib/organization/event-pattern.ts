/**
 * The EventBridge pattern of the CloudTrail S3 calls the guard acts on — one definition for every rule
 * that carries them: the single-account rule and the hub's rule (serverless.yml, through
 * resources/organization.cjs) and the spoke's forwarding rule (deploy/spoke.yml, lib/organization/spoke.ts).
 */
import { TRIGGER_EVENT_NAMES } from '../cloudtrail-event';
import { GUARD_ROLE_PATH } from './names';

/**
 * The guard role ARN prefix of the account a stack is deployed in, as CloudFormation fills it in
 * (guardRoleArnPrefix of names.ts, with the stack's partition and account).
 */
export const STACK_GUARD_ROLE_PREFIX = { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role${GUARD_ROLE_PATH}` } as const;

/**
 * Successful S3 calls of TRIGGER_EVENT_NAMES, except those made by a role whose ARN starts with
 * `guardRolePrefix` (any guard stack of the account, any region, and the member role). Callers without a
 * session issuer (IAM users, root) are kept: `anything-but` never matches a missing field, hence the
 * `exists: false` branch. `anything-but` with `prefix` is supported on event buses (not in Pipes):
 * https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-anything-but-prefix
 */
export const bucketEventPattern = (guardRolePrefix: unknown) => ({
  source: ['aws.s3'],
  'detail-type': ['AWS API Call via CloudTrail'],
  detail: {
    eventSource: ['s3.amazonaws.com'],
    eventName: [...TRIGGER_EVENT_NAMES],
    errorCode: [{ exists: false }],
    $or: [
      { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ exists: false }] } } } },
      { userIdentity: { sessionContext: { sessionIssuer: { arn: [{ 'anything-but': { prefix: guardRolePrefix } }] } } } },
    ],
  },
});
