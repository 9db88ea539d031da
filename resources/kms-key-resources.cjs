'use strict';
/**
 * The KMS keys the guard may describe: this account's keys (those buckets point at) and the keys listed
 * in the kmsKeyArn param, which may belong to another account. Resolved at package time, so an empty
 * list adds no statement resource.
 */
module.exports = async ({ resolveVariable }) => {
  const listed = String(await resolveVariable('param:kmsKeyArn')).split(',').map((arn) => arn.trim()).filter(Boolean);
  return [{ 'Fn::Sub': 'arn:${AWS::Partition}:kms:*:${AWS::AccountId}:key/*' }, ...listed];
};
