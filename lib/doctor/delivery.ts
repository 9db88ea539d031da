/**
 * The guard's delivery path as deployed: the rule enabled and targeting the settle queue, the queue
 * feeding enforceBucket, and the dead-letter queues empty (or how many messages wait, and since when).
 * Pure: what EventBridge, SQS, Lambda and CloudWatch said in, checks out.
 */
import { age, type Check, fail, pass, warn } from './check';

export interface RuleFacts {
  name: string;
  state: string;
  targets: ReadonlyArray<{ arn: string; deadLetterArn?: string }>;
}

export interface QueueFacts {
  arn: string;
  /** Visible, in flight and delayed messages (SQS's approximate counts). */
  visible: number;
  inFlight: number;
  delayed: number;
  delaySeconds: number;
  /** From CloudWatch's ApproximateAgeOfOldestMessage (the last hour's maximum); undefined: no datapoint. */
  oldestAgeSeconds?: number;
}

type Read<T> = T | { error: string };
const failed = <T extends object>(value: Read<T>): value is { error: string } => 'error' in value;

/** EventBridge's states that deliver events: ENABLED, and the one that also takes read-only management events. */
const DELIVERING = new Set(['ENABLED', 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS']);

export const ruleCheck = (rule: Read<RuleFacts>, settleQueueArn: string | undefined): Check => {
  const id = 'rule';
  if (failed(rule)) return fail(id, `the guard's rule could not be read (${rule.error}): grant events:DescribeRule and events:ListTargetsByRule, or redeploy`);
  if (!DELIVERING.has(rule.state)) return fail(id, `rule ${rule.name} is ${rule.state}: no bucket event reaches the guard; enable it (aws events enable-rule --name ${rule.name}) or redeploy`);
  const target = rule.targets.find((candidate) => candidate.arn === settleQueueArn);
  if (!target) return fail(id, `rule ${rule.name} does not target the settle queue (targets: ${rule.targets.map((t) => t.arn).join(', ') || 'none'}): redeploy the stack`);
  return pass(id, `rule ${rule.name} is ${rule.state} and targets the settle queue${target.deadLetterArn ? ', with a dead-letter queue for failed deliveries' : ''}`);
};

const waiting = (queue: QueueFacts): number => queue.visible + queue.inFlight + queue.delayed;
const since = (queue: QueueFacts): string =>
  queue.oldestAgeSeconds === undefined ? 'age unknown (no CloudWatch datapoint in the last hour)' : `oldest ${age(queue.oldestAgeSeconds)} old`;

/** A dead-letter queue is healthy only when empty: every message in it is an event or a sweep the guard gave up on. */
export const deadLetterCheck = (id: string, label: string, means: string, queue: Read<QueueFacts>): Check => {
  if (failed(queue)) return warn(id, `the ${label} could not be read (${queue.error}): grant sqs:GetQueueAttributes`);
  const count = waiting(queue);
  if (count === 0) return pass(id, `the ${label} is empty`);
  return fail(id, `${count} message${count === 1 ? '' : 's'} in the ${label} (${since(queue)}): ${means}. Read them (aws sqs receive-message), fix the cause, then redrive (aws sqs start-message-move-task --source-arn ${queue.arn}) or delete them`);
};

/** Messages may wait the settle delay by design; much longer means nothing is consuming them. */
const STUCK_AFTER_SECONDS = 15 * 60;

export const settleQueueCheck = (queue: Read<QueueFacts>, mappingState: Read<{ state: string }>): Check => {
  const id = 'settle-queue';
  if (failed(queue)) return warn(id, `the settle queue could not be read (${queue.error}): grant sqs:GetQueueAttributes`);
  const counts = `${queue.delayed} settling, ${queue.visible} waiting, ${queue.inFlight} in flight (settle delay ${queue.delaySeconds} s)`;
  if (!failed(mappingState) && mappingState.state !== 'Enabled' && mappingState.state !== 'Enabling' && mappingState.state !== 'Updating') {
    return fail(id, `the settle queue does not feed enforceBucket: its event source mapping is ${mappingState.state}; enable it (aws lambda update-event-source-mapping --enabled) or redeploy. ${counts}`);
  }
  if (queue.oldestAgeSeconds !== undefined && queue.oldestAgeSeconds > queue.delaySeconds + STUCK_AFTER_SECONDS) {
    return warn(id, `messages wait far longer than the settle delay (${since(queue)}): is enforceBucket throttled or failing? See its errors on the dashboard. ${counts}`);
  }
  const mapping = failed(mappingState) ? `; its event source mapping could not be read (${mappingState.error})` : '; feeds enforceBucket';
  return pass(id, `${counts}${mapping}`);
};
