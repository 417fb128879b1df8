/** Runs `worker` over `items` on `senders` concurrent loops; returns the elapsed seconds. */
export async function concurrently<T>(items: readonly T[], senders: number, worker: (item: T) => Promise<void>): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: senders }, async () => {
      while (next < items.length) await worker(items[next++]!);
    }),
  );
  return (performance.now() - started) / 1000;
}
