/**
 * The source load of the pull benchmark, in its own process: transactions of 5 order inserts and
 * 5 customer updates (10 row changes) at RATE changes/s for SECONDS, over several connections
 * (each updates its own customers, so no two transactions wait on each other's row locks).
 *
 *   node --import tsx benchmarks/cdc/pull-writer.ts URL RATE SECONDS CUSTOMERS FIRST_ORDER_ID
 *
 * Prints `{ "changes", "transactions", "seconds", "errors" }` on stdout when done.
 */
import postgres from 'postgres';

const [url, rateArg, secondsArg, customersArg, firstOrderArg] = process.argv.slice(2);
if (!url || !rateArg || !secondsArg || !customersArg || !firstOrderArg) throw new Error('usage: pull-writer.ts URL RATE SECONDS CUSTOMERS FIRST_ORDER_ID');
const RATE = Number(rateArg);
const SECONDS = Number(secondsArg);
const CUSTOMERS = Number(customersArg);
const CONNECTIONS = 8;
const PER_TXN = 5;

const sql = postgres(url, { max: CONNECTIONS, onnotice: () => {} });
const txnRate = RATE / (2 * PER_TXN);
const total = Math.round(txnRate * SECONDS);
const started = performance.now();
let next = 0;
let done = 0;
let errors = 0;
let nextOrder = Number(firstOrderArg);
/** An array literal (`{1,2,3}`) for a `::int[]` parameter. */
const pgArray = (values: number[]) => `{${values.join(',')}}`;

async function worker(lane: number): Promise<void> {
  // Lane k updates the customers whose id ≡ k (mod CONNECTIONS).
  const laneSize = Math.floor(CUSTOMERS / CONNECTIONS);
  for (;;) {
    const i = next++;
    if (i >= total) return;
    const due = started + (i / txnRate) * 1000;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const orders = Array.from({ length: PER_TXN }, () => nextOrder++);
    const buyers = orders.map((o) => 1 + ((o * 7919) % CUSTOMERS));
    const first = Math.floor(Math.random() * laneSize);
    const updated = Array.from({ length: PER_TXN }, (_, j) => 1 + lane + CONNECTIONS * ((first + j) % laneSize));
    try {
      await sql`
        WITH placed AS (
          INSERT INTO orders (id, customer_id, amount, status, created_at)
          SELECT o.id, o.customer_id, (o.id % 10000) / 100.0, 'placed', now()
          FROM unnest(${pgArray(orders)}::bigint[], ${pgArray(buyers)}::int[]) AS o(id, customer_id)
          RETURNING 1)
        UPDATE customers SET visits = visits + 1, updated_at = now() WHERE id = ANY(${pgArray(updated)}::int[])`;
      done++;
    } catch (err) {
      if (errors++ === 0) process.stderr.write(`writer: ${String(err)}\n`);
    }
  }
}

await Promise.all(Array.from({ length: CONNECTIONS }, (_, lane) => worker(lane)));
const seconds = (performance.now() - started) / 1000;
await sql.end();
process.stdout.write(`${JSON.stringify({ changes: done * 2 * PER_TXN, transactions: done, seconds, errors })}\n`);
