/** For emulator suites: real SDK clients pointed at the moto server started by global-setup. */
export const emulatorEndpoint = (): string => {
  const endpoint = process.env.GUARD_TEST_ENDPOINT;
  if (!endpoint) throw new Error('GUARD_TEST_ENDPOINT is not set: run emulator suites through jest (tests/global-setup.ts)');
  return endpoint;
};

export const useEmulator = (): string => {
  const endpoint = emulatorEndpoint();
  process.env.AWS_ENDPOINT_URL = endpoint;
  return endpoint;
};
