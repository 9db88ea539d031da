/**
 * Consecutive items cut into requests of at most `maxItems`, whose sizes add up to less than `maxBytes`
 * (AWS batch APIs limit both: PutEvents, SendMessageBatch). An item too large alone still gets a request
 * of its own: the caller decides what to do with it.
 */
export const batchesWithin = <T>(items: readonly T[], sizeOf: (item: T) => number, { maxItems, maxBytes }: { maxItems: number; maxBytes: number }): T[][] => {
  const result: T[][] = [];
  let current: T[] = [];
  let bytes = 0;
  for (const item of items) {
    const size = sizeOf(item);
    if (current.length === maxItems || (current.length > 0 && bytes + size >= maxBytes)) {
      result.push(current);
      current = [];
      bytes = 0;
    }
    current.push(item);
    bytes += size;
  }
  if (current.length > 0) result.push(current);
  return result;
};
