/**
 * What the doctor looks for in the deployed stack: its name (`<service>-<stage>`, as serverless names it)
 * and the logical ids of serverless.yml's resources it reads. Pure; tests/template checks these ids against
 * the packaged template, and the service name against serverless.yml.
 */
import { ConfigError, type GuardConfig, loadConfig } from '../config';
import { KMS_MODES } from '../modes';
import { DEAD_LETTER_QUEUES, FUNCTIONS, REENCRYPT_DEAD_LETTER_QUEUE, SETTLE_QUEUE, SWEEP_WORK_DEAD_LETTER_QUEUE } from '../observability';
import { SERVICE_NAME } from '../metric-names';
import { type Check, fail, pass } from './check';

export const stackName = (stage: string, service = SERVICE_NAME): string => `${service}-${stage}`;

export const RULE_ID = 'BucketEventsRule';
export const SETTLE_QUEUE_ID = SETTLE_QUEUE.id;
export const ENFORCE_FUNCTION_ID = FUNCTIONS[0].functionId;
/** serverless's logical id of the settle queue's event source mapping (with re-keying the stack has a second one). */
export const SETTLE_QUEUE_MAPPING_ID = 'EnforceBucketEventSourceMappingSQSSettleQueue';
export { DEAD_LETTER_QUEUES };

/** The stack's dead-letter queues: the three of every stack, re-keying's and the hub's sweep work where deployed. */
export const deadLetterQueuesIn = (resources: StackResources) =>
  [...DEAD_LETTER_QUEUES, ...[REENCRYPT_DEAD_LETTER_QUEUE, SWEEP_WORK_DEAD_LETTER_QUEUE].filter((queue) => resources.has(queue.id))];

/** A resource of the stack: its type and physical id (a rule's name, a queue's URL, a function's name, ...). */
export interface StackResource {
  type: string;
  physicalId: string;
}
export type StackResources = ReadonlyMap<string, StackResource>;

export const stackCheck = (name: string, region: string, resources: StackResources | { error: string }): Check => {
  if ('error' in resources) {
    return fail('stack', `stack ${name} could not be read in ${region} (${resources.error}): deploy it (npx serverless deploy --stage … --region ${region}), or pass the --stage and --region it was deployed with`);
  }
  const missing = [RULE_ID, SETTLE_QUEUE_ID, ENFORCE_FUNCTION_ID, ...DEAD_LETTER_QUEUES.map((queue) => queue.id)].filter((id) => !resources.has(id));
  if (missing.length > 0) return fail('stack', `stack ${name} lacks ${missing.join(', ')}: is it this guard's stack? Redeploy it from this repository`);
  return pass('stack', `stack ${name} in ${region}: ${resources.size} resources`);
};

/** The deployed configuration (enforceBucket's environment), checked as the function checks it at cold start. */
export const configCheck = (environment: Readonly<Record<string, string>> | { error: string }, region: string): { check: Check; config?: GuardConfig } => {
  if ('error' in environment) return { check: fail('config', `enforceBucket's configuration could not be read (${environment.error}): grant lambda:GetFunctionConfiguration, or redeploy`) };
  try {
    const config = loadConfig({ ...environment, AWS_REGION: region });
    const guardrails = Object.entries(config.guardrails).map(([name, setting]) => `${name}=${setting}`).join(', ');
    const keys = config.kmsKeyArns.length ? `, keys ${config.kmsKeyArns.join(', ')}` : '';
    return { config, check: pass('config', `mode ${config.mode}${keys}${config.dryRun ? ', dry run (nothing is written)' : ''}; ${guardrails}${KMS_MODES.has(config.mode) ? '' : '; no KMS permission needed by writers'}`) };
  } catch (error) {
    if (error instanceof ConfigError) return { check: fail('config', `${error.message}: redeploy with valid params`) };
    throw error;
  }
};
