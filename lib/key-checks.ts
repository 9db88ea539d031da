/** What makes a KMS key safe to point a bucket at. Pure: S3 does not validate `KMSMasterKeyID`, we must. */

export type KeyFacts =
  | {
      found: true;
      arn: string;
      accountId: string;
      region: string;
      keyState: string;
      keySpec: string;
      keyUsage: string;
      keyManager: string;
      /** Undefined when unknown (not a customer key, or not readable). */
      rotationEnabled?: boolean;
    }
  | { found: false; reason: string };

/** Every reason the key would break the bucket's writers, or is not the kind required. */
export const keyProblems = (facts: KeyFacts, bucketRegion: string, requireCustomer: boolean): string[] => {
  if (!facts.found) return [facts.reason];
  const problems: string[] = [];
  if (facts.keyState !== 'Enabled') problems.push(`key ${facts.arn} is ${facts.keyState}`);
  if (facts.keySpec !== 'SYMMETRIC_DEFAULT') problems.push(`key ${facts.arn} has KeySpec ${facts.keySpec}, S3 needs SYMMETRIC_DEFAULT`);
  if (facts.keyUsage !== 'ENCRYPT_DECRYPT') problems.push(`key ${facts.arn} has KeyUsage ${facts.keyUsage}, S3 needs ENCRYPT_DECRYPT`);
  if (facts.region !== bucketRegion) problems.push(`key ${facts.arn} is in ${facts.region}, the bucket in ${bucketRegion}`);
  if (requireCustomer && facts.keyManager !== 'CUSTOMER') problems.push(`key ${facts.arn} is AWS managed, a customer managed key is required`);
  return problems;
};
