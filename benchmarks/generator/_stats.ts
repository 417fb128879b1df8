import { generateShop } from './shop.ts';
const N = Number(process.argv[2] ?? 100000);
let msgs = 0, users = 0, ids = 0, idsNoDev = 0, phones = 0, emails = 0, shared = 0, aliases = 0, identifies = 0, junk = 0, orders = 0;
const types: Record<string, number> = {};
const events: Record<string, number> = {};
const t0 = performance.now();
for (const { truth, messages } of generateShop({ people: N })) {
  msgs += messages.length;
  if (truth.userId) users++;
  ids += (truth.userId ? 1 : 0) + truth.emails.length + truth.phones.length + truth.anonymousIds.length + truth.deviceIds.length;
  idsNoDev += (truth.userId ? 1 : 0) + truth.emails.length + truth.phones.length + truth.anonymousIds.length;
  phones += truth.phones.length ? 1 : 0; emails += truth.emails.length > 1 ? 1 : 0;
  if (truth.deviceIds.some((d) => d.startsWith('dev-shared'))) shared++;
  for (const m of messages) {
    types[m.type] = (types[m.type] ?? 0) + 1;
    if (m.event) events[m.event] = (events[m.event] ?? 0) + 1;
    if (m.type === 'identify') { identifies++; const e = m.traits?.email; if (e === '' || e === 'null' || e === 'test@test.com') junk++; }
  }
}
const ms = performance.now() - t0;
console.log({ N, msgsPerPerson: msgs / N, users: users / N, idsPerPerson: ids / N, idsNoDev: idsNoDev / N, phones: phones / N, emailChanged: emails / N, shared, junkRate: junk / identifies, types, events, ms: Math.round(ms), msgPerSec: Math.round(msgs / ms * 1000) });
