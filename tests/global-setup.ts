import { type Emulator, startEmulator } from '../scripts/emulator';

declare global {
  var guardEmulator: Emulator | undefined;
}

/**
 * Starts the emulator; suites find it in GUARD_TEST_ENDPOINT (workers inherit this environment). Starting
 * it sets up its Python first (scripts/python-env.ts: a .venv on first use), so cfn-lint finds it ready.
 */
export default async (): Promise<void> => {
  const emulator = await startEmulator();
  globalThis.guardEmulator = emulator;
  process.env.GUARD_TEST_ENDPOINT = emulator.endpoint;
};
