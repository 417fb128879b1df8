/**
 * What a feature file declares, as zod schemas (the one source of truth; the TypeScript types are
 * inferred from them). `dsl.ts` builds these shapes with typed helpers; files may also write the
 * plain objects. `load-definitions.ts` parses every exported declaration with these schemas.
 */
import { z } from 'zod';

/** The value types of source fields (event properties, CDC columns, CRM traits). */
export const VALUE_TYPES = ['string', 'int', 'float', 'bool', 'timestamp', 'date', 'json'] as const;
export type ValueType = (typeof VALUE_TYPES)[number];

/** The types a feature (a column of the `profiles` table) can have. */
export const FEATURE_TYPES = ['int', 'float', 'bool', 'string', 'timestamp', 'date'] as const;
export type FeatureType = (typeof FEATURE_TYPES)[number];

/** Segment call types an events source can select. */
export const EVENT_TYPES = ['track', 'page', 'screen', 'identify', 'group', 'alias'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const FEATURE_NAME = /^[a-z][a-z0-9_]{0,62}$/;
/** Columns of the profiles table that are not features. */
export const RESERVED_NAMES: ReadonlySet<string> = new Set(['profile_id']);

// ---- expressions ------------------------------------------------------------------------------

export type Literal = string | number | boolean | null;

export const OPERATORS = [
  'add', 'sub', 'mul', 'div',
  'eq', 'ne', 'gt', 'gte', 'lt', 'lte', 'in',
  'and', 'or', 'not',
  'isNull', 'isNotNull', 'coalesce', 'if',
  'round', 'lower',
  'daysSince', 'hoursSince',
] as const;
export type Operator = (typeof OPERATORS)[number];

/**
 * An expression: over a source row's fields (a filter, an aggregated value) or over other
 * features (a derived feature).
 */
export type Expr =
  | { kind: 'field'; path: string }
  | { kind: 'feature'; name: string }
  | { kind: 'literal'; value: Literal }
  | { kind: 'call'; op: Operator; args: Expr[] };

const literal = z.union([z.string(), z.number().finite(), z.boolean(), z.null()]);

export const exprSchema: z.ZodType<Expr> = z.lazy(() =>
  z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('field'), path: z.string().min(1, 'a field path cannot be empty') }).strict(),
    z.object({ kind: z.literal('feature'), name: z.string().min(1) }).strict(),
    z.object({ kind: z.literal('literal'), value: literal }).strict(),
    z.object({ kind: z.literal('call'), op: z.enum(OPERATORS), args: z.array(exprSchema) }).strict(),
  ]),
);

/** A field path written as a string (`'properties.revenue'`) or an expression. */
const valueSchema = z.union([z.string().min(1).transform((path): Expr => ({ kind: 'field', path })), exprSchema]);

// ---- sources ----------------------------------------------------------------------------------

export const sourceSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('events'),
      /** Call types; default all. */
      types: z.array(z.enum(EVENT_TYPES)).min(1).optional(),
      /** Event names (`event` of track calls, `name` of page / screen calls); default any. */
      names: z.array(z.string().min(1)).min(1).optional(),
    })
    .strict(),
  z.object({ kind: z.literal('cdc'), source: z.string().min(1), table: z.string().min(1) }).strict(),
  z.object({ kind: z.literal('crm'), source: z.string().min(1) }).strict(),
]);
export type SourceDecl = z.infer<typeof sourceSchema>;

// ---- aggregations -----------------------------------------------------------------------------

export const VALUE_AGGREGATIONS = ['sum', 'min', 'max', 'avg', 'first', 'last', 'latest', 'distinctCount', 'mostFrequent'] as const;
export const AGGREGATIONS = ['count', 'exists', ...VALUE_AGGREGATIONS] as const;
export type AggregationName = (typeof AGGREGATIONS)[number];

export const aggregationSchema = z.discriminatedUnion('fn', [
  z.object({ fn: z.literal('count') }).strict(),
  z.object({ fn: z.literal('exists') }).strict(),
  z.object({ fn: z.enum(VALUE_AGGREGATIONS), of: valueSchema }).strict(),
]);
export type AggregationDecl = z.infer<typeof aggregationSchema>;

// ---- windows ----------------------------------------------------------------------------------

const WINDOW_UNITS_MS = { m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 } as const;
const WINDOW = /^([1-9]\d{0,5})(m|h|d|w)$/;

/** `30d` → milliseconds; undefined when the text is not a window. */
export function windowMs(text: string): number | undefined {
  const m = WINDOW.exec(text);
  return m ? Number(m[1]) * WINDOW_UNITS_MS[m[2] as keyof typeof WINDOW_UNITS_MS] : undefined;
}

const windowSchema = z.string().refine((w) => windowMs(w) !== undefined, 'must be a number and a unit, e.g. 30d, 12h, 90m, 2w');

// ---- features ---------------------------------------------------------------------------------

const common = {
  description: z.string().trim().min(1, 'every feature needs a description'),
  type: z.enum(FEATURE_TYPES),
  /** Overrides the feature set's owner. */
  owner: z.string().min(1).optional(),
  tags: z.array(z.string().min(1)).optional(),
  /** The value when there is nothing to aggregate (or an input is null); without one, null. */
  default: literal.optional(),
};

export const aggregateFeatureSchema = z
  .object({
    ...common,
    from: sourceSchema,
    aggregate: aggregationSchema,
    /** A condition on the source row (an expression over fields). */
    where: exprSchema.optional(),
    /** Only rows whose time is within this long before the run (or training row) time. */
    window: windowSchema.optional(),
  })
  .strict();

export const derivedFeatureSchema = z
  .object({
    ...common,
    /** An expression over other features. */
    derive: exprSchema,
  })
  .strict();

export const featureDeclSchema = z.union([aggregateFeatureSchema, derivedFeatureSchema]);
export type AggregateFeatureDecl = z.infer<typeof aggregateFeatureSchema>;
export type DerivedFeatureDecl = z.infer<typeof derivedFeatureSchema>;
export type FeatureDecl = AggregateFeatureDecl | DerivedFeatureDecl;

export const FEATURE_SET = 'tessera.featureSet';
export const EVENT_CATALOG = 'tessera.eventCatalog';

export const featureSetSchema = z
  .object({
    kind: z.literal(FEATURE_SET),
    owner: z.string().min(1).optional(),
    tags: z.array(z.string().min(1)).default([]),
    features: z.record(z.string(), z.unknown()),
  })
  .strict();
export type FeatureSetDecl = z.infer<typeof featureSetSchema>;

// ---- the event catalogue ----------------------------------------------------------------------

/** Dotted property path → value type, e.g. `{ revenue: 'float', 'shipping.country': 'string' }`. */
const fieldTypes = z.record(z.string().regex(/^[A-Za-z_$][\w$-]*(\.[A-Za-z_$][\w$-]*)*$/, 'must be a dotted path of names'), z.enum(VALUE_TYPES));

/**
 * The events a feature may read and the types of their properties, so that a typo in an event
 * name or a property path fails `tessera features validate` instead of giving silent nulls.
 */
export const eventCatalogSchema = z
  .object({
    kind: z.literal(EVENT_CATALOG),
    /** track events by name → their `properties`. */
    track: z.record(z.string().min(1), fieldTypes).default({}),
    /** `properties` of page calls (all names), and page names features may select. */
    page: z.object({ names: z.array(z.string()).default([]), properties: fieldTypes.default({}) }).strict().optional(),
    screen: z.object({ names: z.array(z.string()).default([]), properties: fieldTypes.default({}) }).strict().optional(),
    /** `traits` of identify calls. */
    identify: fieldTypes.default({}),
    /** `context` of every call. */
    context: fieldTypes.default({}),
  })
  .strict();
export type EventCatalogDecl = z.infer<typeof eventCatalogSchema>;
export type EventCatalogInput = z.input<typeof eventCatalogSchema>;
