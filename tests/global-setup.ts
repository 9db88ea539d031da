import { type Emulator, startEmulator } from '../scripts/emulator';

declare global {
  var guardEmulator: Emulator | undefined;
}

/** Starts the emulator; suites find it in GUARD_TEST_ENDPOINT (workers inherit this environment). */
export default async (): Promise<void> => {
  const emulator = await startEmulator();
  globalThis.guardEmulator = emulator;
  process.env.GUARD_TEST_ENDPOINT = emulator.endpoint;
};
