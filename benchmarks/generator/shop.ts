/**
 * Deterministic synthetic online-shop traffic as Segment Tracking API messages, with the ground
 * truth of who is who. See README.md in this folder.
 *
 * Every person's messages depend only on (seed, person index), so any range of people can be
 * generated on its own, in any order or in parallel, and always comes out the same.
 */
import { Prng, fmix32, hash32 } from './prng.ts';

export interface SegmentMessage {
  type: 'identify' | 'track' | 'page' | 'screen' | 'alias' | 'group';
  messageId: string;
  /** ISO-8601, UTC. */
  timestamp: string;
  userId?: string;
  anonymousId?: string;
  previousId?: string;
  event?: string;
  name?: string;
  traits?: Record<string, unknown>;
  properties?: Record<string, unknown>;
  context?: Record<string, unknown>;
}

/** The identifiers that really belong to one person (as they appear in the messages, normalised). */
export interface PersonTruth {
  person: number;
  /** Set when the person signed up. */
  userId?: string;
  /** Lower-cased and trimmed; junk values ('test@test.com', 'null', '') excluded. */
  emails: string[];
  /** E.164, e.g. '+14155550100'. */
  phones: string[];
  anonymousIds: string[];
  deviceIds: string[];
}

export interface ShopOptions {
  people: number;
  /** Default 42. */
  seed?: number;
  /** Default 2026-01-01T00:00:00Z. */
  start?: Date;
  /** Length of the window, default 90; every timestamp is in [start, start + days). */
  days?: number;
  /** Generate people [firstPerson, firstPerson + people); default 0. */
  firstPerson?: number;
}

export interface PersonData {
  truth: PersonTruth;
  messages: SegmentMessage[];
}

export type PersonOptions = Required<Pick<ShopOptions, 'seed' | 'start' | 'days'>>;

export const DEFAULT_SEED = 42;
export const DEFAULT_START = new Date('2026-01-01T00:00:00Z');
export const DEFAULT_DAYS = 90;

/** Values real data carries in the email trait that are not anyone's address. */
export const JUNK_EMAILS: readonly string[] = ['test@test.com', 'null', ''];

// ---- knobs -----------------------------------------------------------------------------------

const SIGNUP_RATE = 0.6;
/** Of people who sign up. */
const PHONE_RATE = 0.3;
const EMAIL_CHANGE_RATE = 0.05;
/** Of logins on a further device: linked with an alias call instead of an identify call. */
const ALIAS_RATE = 0.15;
/** Of pairs (2k, 2k+1). */
const SHARED_PAIR_RATE = 0.02;
/** Of identify calls that carry an email trait. */
const JUNK_EMAIL_RATE = 0.005;
const ORDER_RATE = 0.25;

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

// Salts keep the independent streams and id spaces of one seed apart.
const SALT_PERSON = 0x1001;
const SALT_DEVICE = 0x2002;
const SALT_ANON = 0x3003;
const SALT_USER = 0x4004;
const SALT_SHARED = 0x5005;
const SALT_PHONE = 0x6006;

// ---- static catalogue (independent of the seed) ---------------------------------------------

const SHOP_URL = 'https://shop.example.com';
const CATEGORIES = ['shoes', 'apparel', 'accessories', 'electronics', 'home', 'beauty', 'sports', 'toys'] as const;

interface Product {
  id: string;
  category: string;
  price: number;
  path: string;
  url: string;
}
interface CategoryPage {
  category: string;
  path: string;
  url: string;
}

const PRODUCTS: readonly Product[] = Array.from({ length: 500 }, (_, i) => {
  const id = `prod-${1000 + i}`;
  const h = fmix32(i + 1);
  const category = CATEGORIES[h % CATEGORIES.length] as string;
  // 4.99 … 399.99, most items cheap.
  const base = 4 + Math.floor(((h >>> 8) % 1000) ** 2 / 2525);
  const path = `/p/${id}`;
  return { id, category, price: base + 0.99, path, url: SHOP_URL + path };
});
const CATEGORY_PAGES: readonly CategoryPage[] = CATEGORIES.map((category) => ({ category, path: `/c/${category}`, url: `${SHOP_URL}/c/${category}` }));

const FIRST_NAMES = [
  'alice', 'bob', 'carol', 'david', 'emma', 'frank', 'grace', 'henry', 'isabel', 'jack', 'karen', 'liam', 'maria', 'noah',
  'olivia', 'paul', 'quinn', 'rosa', 'sam', 'tina', 'umar', 'vera', 'will', 'xenia', 'yusuf', 'zoe', 'ana', 'ben', 'chloe',
  'diego', 'elena', 'felix', 'hana', 'ivan', 'julia', 'kenji', 'lucia', 'mateo', 'nina', 'omar', 'priya', 'ryan', 'sofia',
] as const;
const LAST_NAMES = [
  'smith', 'johnson', 'williams', 'brown', 'jones', 'garcia', 'miller', 'davis', 'rodriguez', 'martinez', 'lopez', 'wilson',
  'anderson', 'thomas', 'taylor', 'moore', 'jackson', 'martin', 'lee', 'perez', 'thompson', 'white', 'harris', 'clark',
  'lewis', 'walker', 'young', 'allen', 'king', 'wright', 'scott', 'nguyen', 'hill', 'green', 'baker', 'nelson', 'kim',
] as const;
const DOMAINS = ['gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'hotmail.com', 'proton.me', 'aol.com', 'fastmail.com'];
const DOMAIN_WEIGHTS = [45, 15, 12, 10, 8, 4, 3, 3];
const AREA_CODES = [
  '202', '206', '212', '213', '303', '305', '312', '404', '415', '503', '512', '602', '617', '619', '646', '650', '702',
  '713', '718', '720', '773', '808', '858', '917', '949', '972',
];
const PLANS = ['free', 'plus', 'pro'];
const PLAN_WEIGHTS = [70, 22, 8];

type DeviceKind = 'desktop' | 'mobile' | 'tablet' | 'ios' | 'android';
const DEVICE_KINDS: readonly DeviceKind[] = ['desktop', 'mobile', 'tablet', 'ios', 'android'];
const FIRST_DEVICE_WEIGHTS = [50, 28, 5, 11, 6];
const OTHER_DEVICE_WEIGHTS = [25, 35, 10, 20, 10];
const LIBRARIES: Record<DeviceKind, { name: string; version: string }> = {
  desktop: { name: 'analytics.js', version: '2.11.1' },
  mobile: { name: 'analytics.js', version: '2.11.1' },
  tablet: { name: 'analytics.js', version: '2.11.1' },
  ios: { name: 'analytics-ios', version: '4.1.8' },
  android: { name: 'analytics-android', version: '4.11.3' },
};

// ---- helpers ---------------------------------------------------------------------------------

/**
 * Eight hex digits that look random but are a bijection of (person, index < 4), so ids built from
 * them are unique for the first 2^30 people.
 */
function idHex(person: number, index: number, key: number): string {
  return fmix32(((person * 4 + index) ^ key) >>> 0).toString(16).padStart(8, '0');
}

/** Whether pair (2k, 2k+1) shares a device; both persons reach the same answer on their own. */
export function sharesDevice(seed: number, pair: number): boolean {
  return hash32(seed, pair, SALT_SHARED) / 4294967296 < SHARED_PAIR_RATE;
}

/** The shared device of pair k. */
export function sharedDevice(seed: number, pair: number): { deviceId: string; anonymousId: string } {
  return { deviceId: `dev-shared-${pair}`, anonymousId: `anon-shared-${idHex(pair, 0, hash32(seed, SALT_SHARED))}` };
}

/** Lower-case and trim, as PersonTruth stores emails. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

interface Device {
  id: string;
  anonymousId: string;
  kind: DeviceKind;
  app: boolean;
  /** The person has logged in on it (so its messages carry the userId). */
  linked: boolean;
}

class PersonBuilder {
  readonly messages: SegmentMessage[] = [];
  readonly emails: string[] = [];
  readonly phones: string[] = [];
  readonly devices: Device[] = [];
  readonly rng: Prng;
  userId: string | undefined;
  email = '';
  firstName = '';
  /** Digits of the national number, e.g. '4155550100'. */
  phone = '';
  private n = 0;
  private t: number;
  private readonly prefix: string;
  private readonly lastMs: number;

  constructor(
    readonly person: number,
    readonly seed: number,
    readonly startMs: number,
    readonly spanMs: number,
  ) {
    this.rng = new Prng(seed, person, SALT_PERSON);
    this.prefix = `m-${person}-`;
    this.lastMs = startMs + spanMs - 1;
    this.t = startMs - DAY_MS;
  }

  addDevice(index: number, weights: readonly number[]): Device {
    const rng = this.rng;
    const kind = rng.weighted(DEVICE_KINDS, weights);
    const device: Device = {
      id: `dev-${idHex(this.person, index, hash32(this.seed, SALT_DEVICE))}${rng.hex(4)}`,
      anonymousId: `anon-${idHex(this.person, index, hash32(this.seed, SALT_ANON))}${rng.hex(8)}`,
      kind,
      app: kind === 'ios' || kind === 'android',
      linked: false,
    };
    this.devices.push(device);
    return device;
  }

  // ---- time ----

  /** Moves the clock to a session start: the planned time, but never within 20 minutes of the last event. */
  beginSession(plannedMs: number): void {
    this.t = Math.max(plannedMs, this.t + 20 * MINUTE_MS + this.rng.int(0, 600_000));
  }

  private tick(): string {
    this.t += 4000 + Math.floor(this.rng.next() * 110_000);
    return new Date(this.t < this.lastMs ? this.t : this.lastMs).toISOString();
  }

  private nextId(): string {
    return this.prefix + this.n++;
  }

  // ---- emitting ----

  private context(d: Device): Record<string, unknown> {
    return { library: LIBRARIES[d.kind], device: { id: d.id, type: d.kind } };
  }

  private push(m: SegmentMessage, d: Device): void {
    if (d.linked && this.userId !== undefined) m.userId = this.userId;
    this.messages.push(m);
  }

  track(d: Device, event: string, properties: Record<string, unknown>): void {
    this.push(
      { type: 'track', messageId: this.nextId(), timestamp: this.tick(), anonymousId: d.anonymousId, event, properties, context: this.context(d) },
      d,
    );
  }

  /** A page view (web) or screen view (app). */
  view(d: Device, name: string, path: string, url: string, extra?: { category: string; product_id?: string }): void {
    const timestamp = this.tick();
    const messageId = this.nextId();
    const context = this.context(d);
    if (d.app) {
      const properties: Record<string, unknown> = extra ? { ...extra } : {};
      this.push({ type: 'screen', messageId, timestamp, anonymousId: d.anonymousId, name, properties, context }, d);
    } else {
      const properties: Record<string, unknown> = extra ? { path, url, category: extra.category } : { path, url };
      this.push({ type: 'page', messageId, timestamp, anonymousId: d.anonymousId, name, properties, context }, d);
    }
  }

  identify(d: Device, traits: Record<string, unknown>): void {
    const userId = this.userId as string;
    d.linked = true;
    this.messages.push({
      type: 'identify',
      messageId: this.nextId(),
      timestamp: this.tick(),
      userId,
      anonymousId: d.anonymousId,
      traits,
      context: this.context(d),
    });
  }

  alias(d: Device): void {
    const userId = this.userId as string;
    d.linked = true;
    this.messages.push({
      type: 'alias',
      messageId: this.nextId(),
      timestamp: this.tick(),
      previousId: d.anonymousId,
      userId,
      anonymousId: d.anonymousId,
      context: this.context(d),
    });
  }

  // ---- identifiers as written in traits ----

  /** The current email as one particular call writes it (case and whitespace vary), or junk. */
  emailTrait(): string {
    const rng = this.rng;
    if (rng.chance(JUNK_EMAIL_RATE)) return rng.pick(JUNK_EMAILS);
    const email = this.email;
    if (!this.emails.includes(email)) this.emails.push(email);
    const r = rng.next();
    if (r < 0.8) return email;
    const at = email.indexOf('@');
    const capitalised = email[0]!.toUpperCase() + email.slice(1, at + 1) + email[at + 1]!.toUpperCase() + email.slice(at + 2);
    if (r < 0.9) return capitalised;
    if (r < 0.96) return ` ${capitalised}`;
    return `${email.toUpperCase()} `;
  }

  /** The phone number in one of the ways people write US numbers. */
  phoneTrait(): string {
    const p = this.phone;
    const e164 = `+1${p}`;
    if (!this.phones.includes(e164)) this.phones.push(e164);
    const a = p.slice(0, 3);
    const b = p.slice(3, 6);
    const c = p.slice(6);
    switch (this.rng.int(0, 5)) {
      case 0:
        return `+1 ${a} ${b} ${c}`;
      case 1:
        return `(${a}) ${b}-${c}`;
      case 2:
        return `${a}.${b}.${c}`;
      case 3:
        return `1${p}`;
      case 4:
        return `${a}-${b}-${c}`;
      default:
        return e164;
    }
  }

  // ---- shopping ----

  /** A product, popular ones more often. */
  product(): Product {
    const r = this.rng.next();
    return PRODUCTS[Math.floor(r * r * PRODUCTS.length)] as Product;
  }

  productView(d: Device, p: Product): void {
    this.view(d, 'Product', p.path, p.url, { category: p.category, product_id: p.id });
    this.track(d, 'Product Viewed', { product_id: p.id, category: p.category, price: p.price });
  }

  /** Session Started, a landing view and a few product views; returns the last product seen. */
  browse(d: Device, productViews: number, landing: boolean): Product | undefined {
    const rng = this.rng;
    this.track(d, 'Session Started', { session_id: `s-${this.person}-${this.n}` });
    if (landing) {
      const r = rng.next();
      if (r < 0.6) this.view(d, 'Home', '/', `${SHOP_URL}/`);
      else {
        const c = rng.pick(CATEGORY_PAGES);
        this.view(d, 'Category', c.path, c.url, { category: c.category });
      }
    }
    let last: Product | undefined;
    for (let i = 0; i < productViews; i++) {
      last = this.product();
      this.productView(d, last);
    }
    return last;
  }

  order(d: Device, first: Product | undefined, orderNo: number): void {
    const rng = this.rng;
    const p0 = first ?? this.product();
    const items = rng.weightedIndex([0, 70, 22, 8]);
    const products: Record<string, unknown>[] = [];
    let revenue = 0;
    for (let i = 0; i < items; i++) {
      const p = i === 0 ? p0 : this.product();
      const quantity = rng.chance(0.85) ? 1 : rng.int(2, 3);
      revenue += p.price * quantity;
      products.push({ product_id: p.id, category: p.category, price: p.price, quantity });
    }
    revenue = Math.round(revenue * 100) / 100;
    this.track(d, 'Product Added', { product_id: p0.id, category: p0.category, price: p0.price, quantity: (products[0] as { quantity: number }).quantity });
    this.track(d, 'Checkout Started', { value: revenue, currency: 'USD', products });
    const orderId = `o-${this.person}-${orderNo}`;
    this.track(d, 'Order Completed', { order_id: orderId, revenue, currency: 'USD', products, category: p0.category });
  }
}

/** Sorted uniform times in [from, to). */
function sessionStarts(rng: Prng, count: number, from: number, to: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(from + Math.floor(rng.next() * (to - from)));
  return out.sort((a, b) => a - b);
}

/** One person's messages (sorted by timestamp) and truth. Depends only on (seed, person). */
export function generatePerson(person: number, opts: PersonOptions): PersonData {
  const { seed } = opts;
  const startMs = opts.start.getTime();
  const spanMs = Math.max(1, Math.round(opts.days * DAY_MS));
  const b = new PersonBuilder(person, seed, startMs, spanMs);
  const rng = b.rng;

  const pair = Math.floor(person / 2);
  const shared = sharesDevice(seed, pair);
  const signsUp = shared || rng.chance(SIGNUP_RATE);

  // First seen somewhere in the window, most people early enough to come back.
  const firstSeen = startMs + Math.floor(rng.next() * rng.next() * spanMs * 0.9);
  const endMs = startMs + spanMs;

  const primary = b.addDevice(0, FIRST_DEVICE_WEIGHTS);

  if (!signsUp) {
    // Never signs in: from the data, one device.
    const sessions = 1 + rng.weightedIndex([72, 23, 5]);
    const starts = sessionStarts(rng, sessions - 1, firstSeen, endMs);
    starts.unshift(firstSeen);
    for (const s of starts) {
      b.beginSession(s);
      const last = b.browse(primary, rng.weightedIndex([40, 42, 18]), true);
      if (last && rng.chance(0.12)) b.track(primary, 'Product Added', { product_id: last.id, category: last.category, price: last.price, quantity: 1 });
    }
    return finish(b);
  }

  // Identity.
  const first = rng.pick(FIRST_NAMES);
  const last = rng.pick(LAST_NAMES);
  const domain = rng.weighted(DOMAINS, DOMAIN_WEIGHTS);
  // The person number keeps addresses unique; the shapes never collide with each other.
  const style = rng.int(0, 2);
  b.email = style === 0 ? `${first}.${last}${person}@${domain}` : style === 1 ? `${first}${last[0]}${person}@${domain}` : `${first}_${last}${person}@${domain}`;
  b.firstName = first[0]!.toUpperCase() + first.slice(1);
  b.userId = `u-${fmix32((person ^ hash32(seed, SALT_USER)) >>> 0)}`;
  if (rng.chance(PHONE_RATE)) {
    // Unique for the first 8M people: an affine bijection of the index onto exchange (200-999) + line.
    const local = (person * 2750159 + (hash32(seed, SALT_PHONE) % 8_000_000)) % 8_000_000;
    b.phone = rng.pick(AREA_CODES) + String(200 + Math.floor(local / 10_000)) + String(local % 10_000).padStart(4, '0');
  }
  const plan = rng.weighted(PLANS, PLAN_WEIGHTS);

  const deviceCount = 1 + rng.weightedIndex([50, 35, 15]);
  for (let i = 1; i < deviceCount; i++) b.addDevice(i, OTHER_DEVICE_WEIGHTS);
  if (shared) {
    const s = sharedDevice(seed, pair);
    b.devices.push({ id: s.deviceId, anonymousId: s.anonymousId, kind: 'desktop', app: false, linked: false });
  }

  // Sessions: anonymous browsing, sign-up, then logins on the other devices mixed with return visits.
  const preSessions = rng.weightedIndex([50, 42, 8]);
  const extras = rng.weightedIndex([55, 30, 12, 3]);
  // true: first login on the next device; false: a return visit on a device already logged in on.
  const plans: boolean[] = [];
  for (let i = 1; i < b.devices.length; i++) plans.push(true);
  for (let i = 0; i < extras; i++) plans.push(false);
  const changesEmail = rng.chance(EMAIL_CHANGE_RATE);
  if (changesEmail && plans.length === 0) plans.push(false);
  for (let i = plans.length - 1; i > 0; i--) {
    const j = rng.int(0, i);
    const tmp = plans[i] as boolean;
    plans[i] = plans[j] as boolean;
    plans[j] = tmp;
  }
  const emailChangeAt = changesEmail ? rng.int(0, plans.length - 1) : -1;

  const starts = sessionStarts(rng, preSessions + plans.length, firstSeen, endMs);
  starts.unshift(firstSeen);
  let si = 0;
  let orders = 0;

  for (let i = 0; i < preSessions; i++) {
    b.beginSession(starts[si++] as number);
    b.browse(primary, rng.weightedIndex([35, 45, 20]), true);
  }

  // Sign-up on the first device.
  b.beginSession(starts[si++] as number);
  const seen = b.browse(primary, rng.weightedIndex([70, 30]), false);
  b.view(primary, 'Sign Up', '/signup', `${SHOP_URL}/signup`);
  const signupTraits: Record<string, unknown> = {
    email: b.emailTrait(),
    first_name: b.firstName,
    created_at: '',
    plan,
  };
  if (b.phone) signupTraits.phone = b.phoneTrait();
  b.identify(primary, signupTraits);
  signupTraits.created_at = (b.messages[b.messages.length - 1] as SegmentMessage).timestamp;
  b.track(primary, 'Signed Up', { plan });
  if (rng.chance(ORDER_RATE)) b.order(primary, seen, orders++);

  let nextLogin = 1;
  for (let p = 0; p < plans.length; p++) {
    b.beginSession(starts[si++] as number);
    let d: Device;
    let seenHere: Product | undefined;
    if (plans[p]) {
      d = b.devices[nextLogin++] as Device;
      seenHere = b.browse(d, rng.weightedIndex([70, 30]), rng.chance(0.5));
      b.view(d, 'Login', '/login', `${SHOP_URL}/login`);
      if (rng.chance(ALIAS_RATE)) b.alias(d);
      else {
        const traits: Record<string, unknown> = { email: b.emailTrait() };
        if (b.phone && rng.chance(0.7)) traits.phone = b.phoneTrait();
        b.identify(d, traits);
      }
    } else {
      d = b.devices[rng.int(0, nextLogin - 1)] as Device;
      seenHere = b.browse(d, rng.weightedIndex([30, 50, 20]), true);
    }
    if (p === emailChangeAt) {
      const newDomain = rng.weighted(DOMAINS, DOMAIN_WEIGHTS);
      b.email = `${first}.${last}.${person}@${newDomain}`;
      b.view(d, 'Account', '/account', `${SHOP_URL}/account`);
      const traits: Record<string, unknown> = { email: b.emailTrait() };
      if (b.phone) traits.phone = b.phoneTrait();
      b.identify(d, traits);
    }
    if (rng.chance(ORDER_RATE)) b.order(d, seenHere, orders++);
  }

  return finish(b);
}

function finish(b: PersonBuilder): PersonData {
  const truth: PersonTruth = { person: b.person, emails: b.emails, phones: b.phones, anonymousIds: [], deviceIds: [] };
  if (b.userId !== undefined) truth.userId = b.userId;
  for (const d of b.devices) {
    truth.anonymousIds.push(d.anonymousId);
    truth.deviceIds.push(d.id);
  }
  return { truth, messages: b.messages };
}

function personOptions(opts: ShopOptions): PersonOptions {
  return { seed: opts.seed ?? DEFAULT_SEED, start: opts.start ?? DEFAULT_START, days: opts.days ?? DEFAULT_DAYS };
}

/** People [firstPerson, firstPerson + people), one item each, in person order. */
export function* generateShop(opts: ShopOptions): Generator<PersonData> {
  const po = personOptions(opts);
  const first = opts.firstPerson ?? 0;
  for (let p = first; p < first + opts.people; p++) yield generatePerson(p, po);
}

/** The messages of generateShop, flattened (sorted per person, people in order). */
export function* shopMessages(opts: ShopOptions): Generator<SegmentMessage> {
  for (const { messages } of generateShop(opts)) yield* messages;
}
