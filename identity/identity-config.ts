/**
 * The identity configuration: which identifier types exist, how each is normalised, how much it
 * counts (priority) and how many distinct values one profile may hold (limit), the default phone
 * region, and the blocklist of values that are never identifiers.
 *
 * The file format (JSON, YAML, a TS object) is the caller's business: `parseIdentityConfig` takes
 * the plain object, validates it with one zod schema, fills in the defaults and returns a
 * `ResolvedIdentityConfig` that the rest of `identity/` uses (compiled blocklist, rule lookup).
 *
 * Defaults, and why:
 *
 * | type           | priority | limit | normalise | why |
 * |----------------|----------|-------|-----------|-----|
 * | `user_id`      | 1        | 1     | trim      | one account = one person: two user ids never share a profile, so a shared device, a shared anonymous id or a family email cannot merge two accounts |
 * | `email`        | 2        | 3     | email     | people change addresses (2 is common, 3 is plenty); a kiosk collecting many addresses under one anonymous id stops at 3 |
 * | `phone`        | 3        | 3     | phone     | same reasoning as email |
 * | `device_id`    | 4        | none  | trim      | a person has any number of devices; shared devices are held apart by the `user_id` limit |
 * | `anonymous_id` | 5        | none  | trim      | one per browser / app install, any number per person |
 * | other types    | 50       | none  | trim      | `context.externalIds` and source-specific ids, unless configured |
 *
 * Lower priority number = more important. When a record would break a limit, its identifiers are
 * dropped one priority level at a time, least important first, then (`readmitDropped`, default
 * true) offered back one by one (see `resolver-engine.ts`).
 */
import { z } from 'zod';
import { isSupportedCountry, type CountryCode } from 'libphonenumber-js';
import { TesseraError } from '../src/common/errors.ts';

/** How the raw value of an identifier type is normalised before anything else. */
export const NORMALISERS = ['email', 'phone', 'trim', 'lower'] as const;
export type Normaliser = (typeof NORMALISERS)[number];

/** The resolved rule of one identifier type. */
export interface IdentifierTypeRule {
  /** Lower = more important (user_id 1). Identifiers are dropped least important first. */
  priority: number;
  /** Max distinct values of this type in one profile; null = unlimited. */
  limit: number | null;
  normalise: Normaliser;
}

/** Type names: letters, digits, `_`, `.`, `-` (no `:`, which separates type and value in keys). */
export const TYPE_NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export const DEFAULT_IDENTIFIER_TYPES: Readonly<Record<string, IdentifierTypeRule>> = {
  user_id: { priority: 1, limit: 1, normalise: 'trim' },
  email: { priority: 2, limit: 3, normalise: 'email' },
  phone: { priority: 3, limit: 3, normalise: 'phone' },
  device_id: { priority: 4, limit: null, normalise: 'trim' },
  anonymous_id: { priority: 5, limit: null, normalise: 'trim' },
};

/** The rule of types that are not configured (external ids), unless `externalIdTypes` says otherwise. */
export const DEFAULT_EXTERNAL_RULE: Readonly<IdentifierTypeRule> = { priority: 50, limit: null, normalise: 'trim' };

/** Values that are never identifiers, compared case-insensitively with the normalised value. */
export const DEFAULT_BLOCKLIST_EXACT: readonly string[] = [
  'null',
  'undefined',
  '0',
  '-1',
  'anonymous',
  'none',
  'n/a',
  'na',
  'unknown',
  'nil',
  'false',
  'true',
  '[object object]',
  'test@test.com',
  'test@example.com',
  'email@example.com',
  'noemail@noemail.com',
  '00000000-0000-0000-0000-000000000000',
];

/** Regex sources, matched case-insensitively against the normalised value. */
export const DEFAULT_BLOCKLIST_PATTERNS: readonly string[] = [
  // 0, 000, +000… (placeholder ids and phones)
  '^\\+?0+$',
  // test@…, example@… (form placeholders)
  '^(test|example)@',
];

const typeName = z.string().regex(TYPE_NAME_PATTERN, 'must be letters, digits, "_", "." or "-" (starting with a letter, at most 64)');

const ruleInput = z
  .object({
    priority: z.number().int('must be an integer').min(0, 'must be >= 0').max(1000, 'must be <= 1000').optional(),
    limit: z.number().int('must be an integer').min(1, 'must be >= 1 (or null for unlimited)').nullable().optional(),
    normalise: z.enum(NORMALISERS).optional(),
  })
  .strict();

const regexSource = z.string().superRefine((source, ctx) => {
  try {
    new RegExp(source, 'i');
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: `is not a valid regular expression (${(err as Error).message})` });
  }
});

/** The one schema of the identity config file. Every field is optional; see the defaults above. */
export const identityConfigSchema = z
  .object({
    /** Per type; built-in types may be partially overridden (e.g. `{ email: { limit: 5 } }`). */
    identifierTypes: z.record(typeName, ruleInput).prefault({}),
    /** ISO 3166-1 alpha-2 region for phone numbers written without a country code. */
    defaultRegion: z
      .string()
      .refine((r) => isSupportedCountry(r), 'must be a region code libphonenumber-js supports, e.g. "US", "GB"')
      .default('US'),
    blocklist: z
      .object({
        exact: z.array(z.string()).default([...DEFAULT_BLOCKLIST_EXACT]),
        patterns: z.array(regexSource).default([...DEFAULT_BLOCKLIST_PATTERNS]),
      })
      .strict()
      .prefault({}),
    /**
     * Types that are not in `identifierTypes` (from `context.externalIds` or any other extractor):
     * `accept` is `'any'` or the list of accepted type names; accepted ones get this rule.
     */
    externalIdTypes: z
      .object({
        accept: z.union([z.literal('any'), z.array(typeName)]).default('any'),
        priority: z.number().int('must be an integer').min(0).max(1000).default(DEFAULT_EXTERNAL_RULE.priority),
        limit: z.number().int('must be an integer').min(1, 'must be >= 1 (or null for unlimited)').nullable().default(null),
        normalise: z.enum(NORMALISERS).default('trim'),
      })
      .strict()
      .prefault({}),
    /**
     * After a refusal, offer the dropped identifiers back one at a time (most important first) and
     * keep those that break no rule. `false` = Segment's plain level dropping.
     */
    readmitDropped: z.boolean().default(true),
  })
  .strict();

export type IdentityConfigInput = z.input<typeof identityConfigSchema>;

/** The config with defaults applied, ready for the resolver. Treat as immutable. */
export interface ResolvedIdentityConfig {
  /** Configured types (built-ins merged with the file). */
  identifierTypes: Readonly<Record<string, IdentifierTypeRule>>;
  defaultRegion: CountryCode;
  blocklist: {
    exact: readonly string[];
    patterns: readonly string[];
    /** Lower-cased `exact`. */
    exactSet: ReadonlySet<string>;
    /** Compiled `patterns` (flag `i`). */
    regexes: readonly RegExp[];
  };
  externalIdTypes: { accept: 'any' | readonly string[]; rule: IdentifierTypeRule };
  readmitDropped: boolean;
}

/** Thrown for an invalid config; the message names the field (`identifierTypes.email.limit: …`). */
export class IdentityConfigError extends TesseraError {
  constructor(message: string, details?: unknown) {
    super('invalid_identity_config', message, 400, details);
    this.name = 'IdentityConfigError';
  }
}

/** Validates a config object (from JSON, YAML, …) and applies the defaults. */
export function parseIdentityConfig(input: unknown = {}): ResolvedIdentityConfig {
  const parsed = identityConfigSchema.safeParse(input ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(root)', message: i.message }));
    throw new IdentityConfigError(`invalid identity config: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`, issues);
  }
  const cfg = parsed.data;
  const identifierTypes: Record<string, IdentifierTypeRule> = { ...DEFAULT_IDENTIFIER_TYPES };
  for (const [name, rule] of Object.entries(cfg.identifierTypes)) {
    const base = DEFAULT_IDENTIFIER_TYPES[name] ?? DEFAULT_EXTERNAL_RULE;
    identifierTypes[name] = {
      priority: rule.priority ?? base.priority,
      limit: rule.limit === undefined ? base.limit : rule.limit,
      normalise: rule.normalise ?? base.normalise,
    };
  }
  const { accept, ...rule } = cfg.externalIdTypes;
  return {
    identifierTypes,
    defaultRegion: cfg.defaultRegion as CountryCode,
    blocklist: {
      exact: cfg.blocklist.exact,
      patterns: cfg.blocklist.patterns,
      exactSet: new Set(cfg.blocklist.exact.map((v) => v.trim().toLowerCase())),
      regexes: cfg.blocklist.patterns.map((p) => new RegExp(p, 'i')),
    },
    externalIdTypes: { accept, rule },
    readmitDropped: cfg.readmitDropped,
  };
}

/** The rule for a type: configured, else the external rule when accepted, else undefined. */
export function ruleForType(config: ResolvedIdentityConfig, type: string): IdentifierTypeRule | undefined {
  const configured = config.identifierTypes[type];
  if (configured) return configured;
  const { accept, rule } = config.externalIdTypes;
  if (accept === 'any' ? TYPE_NAME_PATTERN.test(type) : accept.includes(type)) return rule;
  return undefined;
}
