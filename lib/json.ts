/** Untrusted JSON (events, continuation payloads) is walked only through this guard. */
export type Json = Record<string, unknown>;

export const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);
