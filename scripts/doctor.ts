/**
 * `npm run doctor`: can the deployed guard work? Read-only checks with the caller's own credentials; a
 * table of PASS / WARN / FAIL with what to do, or `--json`. Exit code 0 only when nothing FAILs (2: the
 * command line or the credentials are wrong). `AWS_ENDPOINT_URL` points it at the local emulator.
 */
import { parseArgs } from 'node:util';
import { ConfigError, loadConfig } from '../lib/config';
import { CREDENTIALS_HINT, isMissingCredentials } from '../lib/credentials-hint';
import { createDoctorClients } from '../lib/doctor/aws';
import { exitCodeOf } from '../lib/doctor/check';
import { toJson, toTable } from '../lib/doctor/report';
import { runDoctor } from '../lib/doctor/run';
import { type AccountMode, isAccountMode } from '../lib/modes';

export const USAGE = `Usage: npm run doctor -- [--stage dev] [--region eu-west-1] [--profile name] [--json]
                       [--bucket name ...] [--max-buckets 20] [--max-principals 100]
                       [--mode SSE_KMS_CUSTOMER_MANAGED --kms-key-arn arn:aws:kms:…]

Checks the guard deployed as stack s3-encryption-guard-<stage>: the trail, the rule, the queues and
dead-letter queues, the listed keys, who would break in a KMS mode, and organisation controls.
--mode/--kms-key-arn preview a mode before deploying it. Read-only. Exit 0 only when nothing FAILs.`;

const positive = (value: string | undefined, fallback: number, name: string): number => {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1 || parsed > 1000) throw new UsageError(`--${name} must be a whole number from 1 to 1000, got "${value}"`);
  return parsed;
};

class UsageError extends Error {}

export const main = async (argv: readonly string[], env: Readonly<Record<string, string | undefined>>, print: (text: string) => void): Promise<number> => {
  try {
    const { values } = parseArgs({
      args: [...argv],
      options: {
        stage: { type: 'string', default: 'dev' }, region: { type: 'string' }, profile: { type: 'string' }, json: { type: 'boolean', default: false },
        bucket: { type: 'string', multiple: true }, 'max-buckets': { type: 'string' }, 'max-principals': { type: 'string' },
        mode: { type: 'string' }, 'kms-key-arn': { type: 'string' }, help: { type: 'boolean', default: false },
      },
      strict: true,
    });
    if (values.help) {
      print(USAGE);
      return 0;
    }
    const region = values.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) throw new UsageError('give the region the guard is deployed in: --region eu-west-1 (or set AWS_REGION)');
    if (values.mode !== undefined && !isAccountMode(values.mode)) throw new UsageError(`--mode must be an account mode (SSE_S3, SSE_KMS_AWS_MANAGED, SSE_KMS_CUSTOMER_MANAGED, DSSE_KMS), got "${values.mode}"`);
    const kmsKeyArns = values['kms-key-arn']?.split(',').map((arn) => arn.trim()).filter(Boolean);
    // A previewed mode is checked as the functions would check it at cold start.
    if (values.mode || kmsKeyArns) loadConfig({ AWS_REGION: region, ENCRYPTION_MODE: values.mode ?? 'SSE_S3', KMS_KEY_ARN: kmsKeyArns?.join(',') ?? '' });

    const clients = createDoctorClients({ region, ...(values.profile ? { profile: values.profile } : {}), ...(env.AWS_ENDPOINT_URL ? { endpoint: env.AWS_ENDPOINT_URL } : {}) });
    const report = await runDoctor(clients, {
      stage: values.stage,
      ...(values.bucket ? { buckets: values.bucket } : {}),
      maxBuckets: positive(values['max-buckets'], 20, 'max-buckets'),
      maxPrincipals: positive(values['max-principals'], 100, 'max-principals'),
      ...(values.mode ? { mode: values.mode as AccountMode } : {}),
      ...(kmsKeyArns ? { kmsKeyArns } : {}),
    });
    print(values.json ? toJson(report) : toTable(report, process.stdout.columns || 120));
    return exitCodeOf(report.checks);
  } catch (error) {
    if (isMissingCredentials(error)) print(`doctor: ${CREDENTIALS_HINT} (The doctor also takes --profile.)`);
    else if (error instanceof UsageError || error instanceof ConfigError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) print(`doctor: ${(error as Error).message}\n\n${USAGE}`);
    else throw error;
    return 2;
  }
};

if (require.main === module) {
  main(process.argv.slice(2), process.env, (text) => console.log(text)).then((code) => { process.exitCode = code; }, (error: unknown) => {
    console.error(error);
    process.exitCode = 2;
  });
}
