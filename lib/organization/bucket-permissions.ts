/**
 * What the guard may do to a bucket and its keys, wherever it acts: the hub's function roles
 * (serverless.yml, through resources/organization.cjs) and the member role of every account
 * (deploy/spoke.yml). One list, so a member role can never lag behind the guard's own.
 */

/** Bucket configuration only: no object access, no wildcard actions. */
export const BUCKET_CONFIGURATION_ACTIONS = [
  's3:GetEncryptionConfiguration',
  's3:PutEncryptionConfiguration',
  's3:GetBucketTagging',
  's3:GetBucketPolicy',
  's3:PutBucketPolicy',
  's3:DeleteBucketPolicy',
  's3:GetBucketPublicAccessBlock',
  's3:PutBucketPublicAccessBlock',
  's3:GetBucketWebsite', // requireTls: an HTTP-only website endpoint cannot require TLS
] as const;

/** Key checks: metadata of the keys buckets use, never their use. */
export const KEY_CHECK_ACTIONS = ['kms:DescribeKey', 'kms:GetKeyRotationStatus'] as const;
