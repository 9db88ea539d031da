/**
 * Missing AWS credentials, explained: the SDK's "Could not load credentials from any providers" names no
 * fix. Used wherever a person runs the guard's code by hand (`serverless invoke local`, the doctor).
 */
import { errorName } from './aws-errors';

export const CREDENTIALS_HINT = 'No AWS credentials found. For an AWS account: set AWS_PROFILE, '
  + 'or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and AWS_REGION. For the local emulator: run `npm run emulator` '
  + 'and export the AWS_ENDPOINT_URL=… line it prints (with AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1).';

export const isMissingCredentials = (error: unknown): boolean => errorName(error) === 'CredentialsProviderError';

/** The error to show a person: missing credentials become one that says what to set; anything else is kept. */
export class MissingCredentialsError extends Error {
  override name = 'MissingCredentialsError';
  constructor() {
    super(CREDENTIALS_HINT);
  }
}

export const explainCredentials = (error: unknown): unknown => (isMissingCredentials(error) ? new MissingCredentialsError() : error);
