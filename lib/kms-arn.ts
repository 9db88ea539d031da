/** Parsing of KMS key references. Pure: no AWS calls. */

const KEY_ARN = /^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):kms:([a-z]{2}(?:-[a-z]+)+-\d):(\d{12}):key\/([A-Za-z0-9-]{1,128})$/;
const ALIAS_ARN = /^arn:[a-z-]+:kms:[a-z0-9-]+:\d{12}:alias\//;

export interface KeyArn {
  arn: string;
  partition: string;
  region: string;
  accountId: string;
  keyId: string;
}

export const parseKeyArn = (value: string): KeyArn | undefined => {
  const match = KEY_ARN.exec(value);
  if (!match) return undefined;
  const [arn, partition, region, accountId, keyId] = match;
  return { arn, partition, region, accountId, keyId };
};

export const isAliasArn = (value: string): boolean => ALIAS_ARN.test(value);

/**
 * Where a key reference on a bucket (key id, alias, key ARN or alias ARN) points, as far as can be told
 * without asking KMS. S3 resolves bare ids and aliases in the bucket's region and owner's account.
 */
export const keyRefLocation = (ref: string, bucketRegion: string, accountId: string): { region: string; accountId: string } => {
  const arn = /^arn:[a-z-]+:kms:([a-z0-9-]+):(\d{12}):/.exec(ref);
  return arn ? { region: arn[1], accountId: arn[2] } : { region: bucketRegion, accountId };
};
