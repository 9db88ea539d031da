/**
 * The AWS SDK packages besides S3, loaded on first use. A cold start that only reads S3 (a compliant
 * bucket) then does not parse KMS, STS, Lambda, EventBridge and DynamoDB: `npm run bench` measured the
 * load about 1.2x faster. esbuild still bundles them and runs each package's code on its first `require`.
 */
/* eslint-disable @typescript-eslint/no-require-imports */
export const kmsSdk = (): typeof import('@aws-sdk/client-kms') => require('@aws-sdk/client-kms');
export const stsSdk = (): typeof import('@aws-sdk/client-sts') => require('@aws-sdk/client-sts');
export const lambdaSdk = (): typeof import('@aws-sdk/client-lambda') => require('@aws-sdk/client-lambda');
export const eventBridgeSdk = (): typeof import('@aws-sdk/client-eventbridge') => require('@aws-sdk/client-eventbridge');
export const dynamoDbSdk = (): typeof import('@aws-sdk/client-dynamodb') => require('@aws-sdk/client-dynamodb');
export const s3ControlSdk = (): typeof import('@aws-sdk/client-s3-control') => require('@aws-sdk/client-s3-control');
export const sqsSdk = (): typeof import('@aws-sdk/client-sqs') => require('@aws-sdk/client-sqs');
export const organizationsSdk = (): typeof import('@aws-sdk/client-organizations') => require('@aws-sdk/client-organizations');
