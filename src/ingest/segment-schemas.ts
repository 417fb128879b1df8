import { z } from 'zod';

/**
 * zod schemas for the Segment Tracking API spec (identify, track, page, screen, group, alias and
 * batch). Unknown extra fields are accepted and ignored, as Segment does.
 */

/** Segment accepts numeric ids and treats them as strings. */
const id = z.union([z.string(), z.number().finite()]).transform((v) => String(v).trim());
const json = z.record(z.string(), z.unknown());

const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** An ISO-8601 date-time (date, `T`, time, optional fraction and zone) as epoch ms; NaN if it is not one. */
export function parseIsoTimestamp(s: string): number {
  return ISO_8601.test(s) ? Date.parse(s) : Number.NaN;
}

/** ISO-8601 date-time, as epoch milliseconds. */
const isoTimestamp = z.string().transform((s, ctx) => {
  const ms = parseIsoTimestamp(s);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: 'must be an ISO-8601 timestamp' });
    return z.NEVER;
  }
  return ms;
});

/** Longest messageId and track event name (after trimming). */
export const MAX_MESSAGE_ID_LENGTH = 200;
export const MAX_EVENT_NAME_LENGTH = 1000;

const common = {
  messageId: z.string().trim().min(1).max(MAX_MESSAGE_ID_LENGTH).optional(),
  userId: id.optional(),
  anonymousId: id.optional(),
  timestamp: isoTimestamp.optional(),
  originalTimestamp: isoTimestamp.optional(),
  sentAt: isoTimestamp.optional(),
  context: json.optional(),
  integrations: json.optional(),
};

/** Every call but alias needs a userId or an anonymousId. */
export const hasIdentity = (m: { userId?: unknown; anonymousId?: unknown }) => Boolean(m.userId || m.anonymousId);
const identityRequired = { message: 'userId or anonymousId is required', path: ['userId'] };

export const identifySchema = z
  .object({ ...common, type: z.literal('identify'), traits: json.optional() })
  .refine(hasIdentity, identityRequired);
export const trackSchema = z
  .object({
    ...common,
    type: z.literal('track'),
    event: z.string().trim().min(1, 'event is required').max(MAX_EVENT_NAME_LENGTH),
    properties: json.optional(),
  })
  .refine(hasIdentity, identityRequired);
/** page and screen calls carry the same fields. */
const viewShape = { ...common, name: z.string().optional(), category: z.string().optional(), properties: json.optional() };
export const pageSchema = z.object({ ...viewShape, type: z.literal('page') }).refine(hasIdentity, identityRequired);
export const screenSchema = z.object({ ...viewShape, type: z.literal('screen') }).refine(hasIdentity, identityRequired);
export const groupSchema = z
  .object({ ...common, type: z.literal('group'), groupId: id.pipe(z.string().min(1, 'groupId is required')), traits: json.optional() })
  .refine(hasIdentity, identityRequired);
export const aliasSchema = z.object({
  ...common,
  type: z.literal('alias'),
  previousId: id.pipe(z.string().min(1, 'previousId is required')),
  userId: id.pipe(z.string().min(1, 'userId is required')),
});

export const MESSAGE_TYPES = ['identify', 'track', 'page', 'screen', 'group', 'alias'] as const;
export type MessageType = (typeof MESSAGE_TYPES)[number];

export const messageSchemas = {
  identify: identifySchema,
  track: trackSchema,
  page: pageSchema,
  screen: screenSchema,
  group: groupSchema,
  alias: aliasSchema,
} as const;

export type SegmentMessage =
  | z.infer<typeof identifySchema>
  | z.infer<typeof trackSchema>
  | z.infer<typeof pageSchema>
  | z.infer<typeof screenSchema>
  | z.infer<typeof groupSchema>
  | z.infer<typeof aliasSchema>;

/** The envelope of `POST /v1/batch`: each element is validated on its own. */
export const batchSchema = z.object({
  batch: z.array(z.unknown()),
  sentAt: isoTimestamp.optional(),
  context: json.optional(),
  integrations: json.optional(),
  writeKey: z.string().optional(),
});
