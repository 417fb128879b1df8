/**
 * The demo shop's production database and CRM, derived from the generated shoppers: a `customers`
 * row per signed-up shopper (updated when they change email), an `orders` row per completed order
 * (a few refunded or deleted later), and a HubSpot contact export for most customers, written with
 * the email capitalised as CRM users type it. Pure and deterministic, like the generator.
 */
import { hash32 } from '../../benchmarks/generator/prng.ts';
import type { PersonData } from '../../benchmarks/generator/shop.ts';

/** A Debezium change event (PostgreSQL connector, bare payload). */
export interface DebeziumEvent {
  op: 'c' | 'u' | 'd';
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
  source: { connector: 'postgresql'; name: 'shop'; db: 'shop'; schema: 'public'; table: string; ts_ms: number; lsn: number };
  ts_ms: number;
}

export interface CrmContact {
  id: string;
  email: string;
  lifecycle_stage: string;
  lead_score: string;
  updated_at: string;
}

export interface ShopDatabase {
  /** Every change of customers and orders, in commit order. */
  changes: DebeziumEvent[];
  contacts: CrmContact[];
}

const STAGES = ['subscriber', 'lead', 'opportunity', 'customer'] as const;

/** `alice.smith@example.com` → `Alice.Smith@Example.com`. */
function capitalised(email: string): string {
  return email.replace(/(^|[.@])([a-z])/g, (_, sep: string, c: string) => sep + c.toUpperCase());
}

export function shopDatabase(people: Iterable<PersonData>, seed: number): ShopDatabase {
  type Change = Omit<DebeziumEvent, 'source' | 'ts_ms'> & { table: string; at: number };
  const changes: Change[] = [];
  const contacts: CrmContact[] = [];
  for (const { truth, messages } of people) {
    const userId = truth.userId;
    if (!userId) continue;
    const identifies = messages.filter((m) => m.type === 'identify' && m.userId === userId);
    const signedUp = Date.parse(identifies[0]?.timestamp ?? messages[0]!.timestamp);
    const [email, newEmail] = truth.emails;
    const customer = { id: userId, email: email ?? null, name: `Shopper ${truth.person}`, subscribed: hash32(seed, truth.person, 1) % 3 === 0, updated_at: signedUp };
    changes.push({ op: 'c', table: 'customers', before: null, after: customer, at: signedUp });
    if (newEmail) {
      const at = Date.parse(identifies.find((m) => (m.traits?.email as string | undefined)?.toLowerCase().trim() === newEmail)?.timestamp ?? '') || signedUp + 86_400_000;
      changes.push({ op: 'u', table: 'customers', before: null, after: { ...customer, email: newEmail, updated_at: at }, at });
    }
    for (const m of messages) {
      if (m.type !== 'track' || m.event !== 'Order Completed' || m.userId !== userId) continue;
      const at = Date.parse(m.timestamp);
      const order = { id: m.properties!.order_id, customer_id: userId, amount: m.properties!.revenue, status: 'paid', created_at: at };
      changes.push({ op: 'c', table: 'orders', before: null, after: order, at });
      const fate = hash32(seed, truth.person, at) % 50;
      if (fate === 0) changes.push({ op: 'u', table: 'orders', before: null, after: { ...order, status: 'refunded' }, at: at + 3 * 86_400_000 });
      if (fate === 1) changes.push({ op: 'd', table: 'orders', before: { id: order.id }, after: null, at: at + 86_400_000 });
    }
    if (email && hash32(seed, truth.person, 2) % 10 < 7) {
      const score = hash32(seed, truth.person, 3) % 100;
      contacts.push({
        id: `hs-${truth.person}`,
        email: capitalised(email),
        lifecycle_stage: STAGES[score % STAGES.length]!,
        lead_score: String(score),
        updated_at: new Date(signedUp + 3_600_000).toISOString(),
      });
    }
  }
  changes.sort((a, b) => a.at - b.at);
  return {
    changes: changes.map(({ table, at, ...c }, i) => ({ ...c, source: { connector: 'postgresql', name: 'shop', db: 'shop', schema: 'public', table, ts_ms: at, lsn: (i + 1) * 64 }, ts_ms: at })),
    contacts,
  };
}

/** Contacts as the CSV a CRM exports (quoted where needed). */
export function contactsCsv(contacts: readonly CrmContact[]): string {
  const columns = ['id', 'email', 'lifecycle_stage', 'lead_score', 'updated_at'] as const;
  const cell = (v: string) => (/[",\n]/.test(v) ? `"${v.replaceAll('"', '""')}"` : v);
  return [columns.join(','), ...contacts.map((c) => columns.map((k) => cell(c[k])).join(','))].join('\n') + '\n';
}
