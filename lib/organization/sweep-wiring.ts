/**
 * The hub sweep's real parts, wired once per container for both of its functions (sweepBuckets starts a
 * sweep, sweepWorker carries it): the hub, the progress in the ledger table, and the sweep work queue.
 */
import type { Identity } from '../account';
import type { Guard } from '../guard';
import { type Hub, hubFactory } from './hub';
import type { SweepMessage } from './sweep-messages';
import { createSweepProgress, type SweepProgress } from './sweep-progress';
import { sweepQueueSender } from './sweep-queue';

export interface OrgSweepRuntime {
  hubOf: (identity: Identity) => Hub;
  progress: SweepProgress;
  send: (messages: readonly SweepMessage[]) => Promise<void>;
}

/** Undefined unless organization=hub; a hub stack always sets the table and the queue, so their absence is a broken deployment. */
export const orgSweepRuntime = (guard: Guard, env: Readonly<Record<string, string | undefined>> = process.env): OrgSweepRuntime | undefined => {
  const hubOf = hubFactory(guard);
  if (!hubOf) return undefined;
  const table = guard.config.flap.table;
  const queue = env.SWEEP_WORK_QUEUE_NAME;
  if (!table || !queue) throw new Error('organization=hub needs the ledger table (FLAP_TABLE) and the sweep work queue (SWEEP_WORK_QUEUE_NAME)');
  return {
    hubOf,
    progress: createSweepProgress(() => guard.dynamodb(guard.homeRegion), table),
    send: sweepQueueSender(() => guard.sqs(guard.homeRegion), queue),
  };
};
