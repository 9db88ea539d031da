export default async (): Promise<void> => {
  await globalThis.guardEmulator?.stop();
};
