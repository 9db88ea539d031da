/**
 * Answers cached per container for a TTL, shared while in flight (concurrent lookups of one key make one
 * request). A rejected answer is forgotten: a transient failure is not remembered.
 */
export interface PromiseCache<T> {
  /** The cached answer, while its TTL lasts. */
  get(key: string): Promise<T> | undefined;
  /** The last answer cached, expired or not (e.g. to carry over what a fresh answer does not ask again). */
  last(key: string): Promise<T> | undefined;
  set(key: string, value: Promise<T>): Promise<T>;
}

export const createPromiseCache = <T>(ttlMs: number, now: () => number): PromiseCache<T> => {
  const entries = new Map<string, { expires: number; value: Promise<T> }>();
  return {
    get(key) {
      const hit = entries.get(key);
      return hit && hit.expires > now() ? hit.value : undefined;
    },
    last: (key) => entries.get(key)?.value,
    set(key, value) {
      entries.set(key, { expires: now() + ttlMs, value });
      value.catch(() => {
        if (entries.get(key)?.value === value) entries.delete(key);
      });
      return value;
    },
  };
};
