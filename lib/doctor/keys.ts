/**
 * Each listed key, as the guard judges it before pointing a bucket at it (lib/key-checks.ts): enabled,
 * symmetric, ENCRYPT_DECRYPT, in the region its ARN names, customer managed; and rotation on. Pure.
 */
import { type KeyFacts, keyProblems } from '../key-checks';
import { parseKeyArn } from '../kms-arn';
import { type Check, fail, pass, warn } from './check';

export const keyCheck = (arn: string, facts: KeyFacts): Check => {
  const id = `key:${arn}`;
  const region = parseKeyArn(arn)?.region ?? '';
  const problems = keyProblems(facts, region, true);
  if (problems.length > 0) {
    return fail(id, `${problems.join('; ')}: buckets required to use it are reported ERROR and never pointed at it; fix the key or list another (param kmsKeyArn)`);
  }
  if (facts.found && facts.rotationEnabled === false) {
    return warn(id, `enabled, symmetric, ENCRYPT_DECRYPT, in ${region}, but automatic rotation is off: aws kms enable-key-rotation --key-id ${arn} --region ${region}`);
  }
  const rotation = facts.found && facts.rotationEnabled ? 'rotation on' : 'rotation status unknown';
  return pass(id, `enabled, symmetric, ENCRYPT_DECRYPT, customer managed, in ${region}, ${rotation}`);
};
