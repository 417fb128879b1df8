export interface SendOptions {
  /** Default `/v1/batch`. */
  path?: string;
  /** The request body of one batch; default Segment's `{ batch, sentAt }`. */
  body?: (batch: unknown[]) => unknown;
  batchSize?: number;
  concurrency?: number;
  onProgress?: (sent: number) => void;
}

export interface SendResult {
  sent: number;
  accepted: number;
  rejected: number;
  seconds: number;
}

/**
 * Sends messages to `POST /v1/batch` (or `opts.path`) as a Segment SDK would (HTTP Basic with the
 * write key), in batches, from `concurrency` concurrent senders. Any non-2xx answer fails the run.
 */
export async function sendBatches(baseUrl: string, writeKey: string, messages: Iterable<unknown>, opts: SendOptions = {}): Promise<SendResult> {
  const batchSize = opts.batchSize ?? 100;
  const concurrency = opts.concurrency ?? 8;
  const path = opts.path ?? '/v1/batch';
  const toBody = opts.body ?? ((batch: unknown[]) => ({ batch, sentAt: new Date().toISOString() }));
  const auth = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const iterator = messages[Symbol.iterator]();
  const result: SendResult = { sent: 0, accepted: 0, rejected: 0, seconds: 0 };
  const started = performance.now();

  const nextBatch = (): unknown[] => {
    const batch: unknown[] = [];
    while (batch.length < batchSize) {
      const next = iterator.next();
      if (next.done) break;
      batch.push(next.value);
    }
    return batch;
  };

  const sender = async () => {
    for (let batch = nextBatch(); batch.length > 0; batch = nextBatch()) {
      const res = await fetch(`${baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify(toBody(batch)),
      });
      const body = (await res.json()) as { accepted?: number; rejected?: unknown[]; error?: { message: string } };
      if (!res.ok) throw new Error(`POST ${path} answered ${res.status}: ${body.error?.message ?? 'no message'}`);
      result.sent += batch.length;
      result.accepted += body.accepted ?? 0;
      result.rejected += body.rejected?.length ?? 0;
      opts.onProgress?.(result.sent);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, sender));
  result.seconds = (performance.now() - started) / 1000;
  return result;
}
