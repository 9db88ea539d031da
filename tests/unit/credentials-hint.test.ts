/** Missing credentials, explained where a person runs the handlers by hand (serverless invoke local). */
import { createBucketEventHandler } from '../../handlers/bucket-event';
import { createSweepHandler } from '../../handlers/sweep';
import { CREDENTIALS_HINT, explainCredentials, MissingCredentialsError } from '../../lib/credentials-hint';
import type { FindingSink } from '../../lib/telemetry';
import { testGuard } from './aws-mocks';
import { config } from './fixtures';

const noCredentials = Object.assign(new Error('Could not load credentials from any providers'), { name: 'CredentialsProviderError' });
const sink: FindingSink = { finding: () => undefined, ignored: () => undefined, retrying: () => undefined, notEvaluated: () => undefined, flush: async () => undefined };
const guardWithoutCredentials = () => ({ ...testGuard(config()), identityOf: async () => { throw noCredentials; } });

describe('missing credentials', () => {
  it('become an error that says what to set, for enforceBucket and sweepBuckets', async () => {
    await expect(createBucketEventHandler(guardWithoutCredentials(), sink)({})).rejects.toEqual(expect.objectContaining({ name: 'MissingCredentialsError', message: CREDENTIALS_HINT }));
    await expect(createSweepHandler(guardWithoutCredentials(), sink, { handOver: async () => undefined, log: () => undefined })({})).rejects.toBeInstanceOf(MissingCredentialsError);
    expect(CREDENTIALS_HINT).toMatch(/AWS_PROFILE.*AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.*npm run emulator.*AWS_ENDPOINT_URL/);
  });

  it('leave every other error as it is', () => {
    const throttled = Object.assign(new Error('slow down'), { name: 'ThrottlingException' });
    expect(explainCredentials(throttled)).toBe(throttled);
  });
});
