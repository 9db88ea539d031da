/** Placeholder so the hub template packages; the lead's sweepWorker replaces it (issue 16). */
export const handler = async (): Promise<never> => {
  throw new Error('not built yet');
};
