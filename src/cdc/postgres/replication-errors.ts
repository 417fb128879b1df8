/**
 * Typed errors of the PostgreSQL pull connector. Each says what to do: PostgreSQL's own errors
 * (permissions, wal_level, slots) are translated into the fix on the source database.
 */
import { TesseraError, errorMessage } from '../../common/errors.ts';

export class CdcSourceError extends TesseraError {
  constructor(code: string, message: string, opts: { retryable?: boolean; details?: unknown } = {}) {
    super(code, message, opts.retryable ? 503 : 400, opts.details, opts.retryable ?? false);
    this.name = 'CdcSourceError';
  }
}

export class ReplicationProtocolError extends CdcSourceError {
  constructor(message: string) {
    super('replication_protocol_error', `Unexpected logical replication stream: ${message}`, { retryable: true });
  }
}

/** What the messages name: the source, its role, slot and publication. */
export interface SourceContext {
  source: string;
  user: string;
  slot: string;
  publication: string;
}

interface PgError {
  code?: string;
  message?: string;
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'EPIPE']);

/** PostgreSQL's (or the network's) error, as a CdcSourceError saying what to do. */
export function sourceError(err: unknown, ctx: SourceContext, doing: string): CdcSourceError {
  if (err instanceof CdcSourceError) return err;
  const { code = '', message = errorMessage(err) } = (err ?? {}) as PgError;
  const what = `CDC source '${ctx.source}': ${doing} failed: ${message}`;
  const fail = (c: string, fix: string, retryable = false) => new CdcSourceError(c, `${what}. ${fix}`, { retryable, details: { pgCode: code } });
  if (CONNECTION_CODES.has(code) || code.startsWith('08') || code === '57P01' || code === '57P03') {
    return fail('cdc_source_unreachable', 'Check that the database is up and that `connection` in the sources config points at it.', true);
  }
  if (code === '28P01' || code === '28000') {
    if (/replication/i.test(message)) {
      return fail(
        'cdc_replication_not_allowed',
        `Add a pg_hba.conf line that lets role ${ctx.user} connect to this database (logical replication matches the database name, not the \`replication\` keyword), reload PostgreSQL, and check the password.`,
      );
    }
    return fail('cdc_source_auth_failed', 'Check the user and password in `connection`.');
  }
  if (code === '3D000') return fail('cdc_source_unknown_database', 'Check the database name in `connection`.');
  if (code === '42501') {
    if (/replication|wal ?sender/i.test(message)) {
      return fail('cdc_replication_not_allowed', `Give the role replication rights: ALTER ROLE ${ctx.user} WITH REPLICATION; (or connect as a role that has them).`);
    }
    if (/publication/i.test(doing) || /publication/i.test(message)) {
      return fail(
        'cdc_publication_not_allowed',
        `Role ${ctx.user} may not create or change publication ${ctx.publication}: create it once as the tables' owner (CREATE PUBLICATION ${ctx.publication} FOR TABLE ...), or give ${ctx.user} ownership of the tables and CREATE on the database.`,
      );
    }
    return fail('cdc_permission_denied', `Grant role ${ctx.user} SELECT on the declared tables (the initial snapshot reads them).`);
  }
  if (code === '55000' && /wal_level/i.test(message)) return walLevelError(ctx.source, 'not logical');
  if (code === '53400') {
    return fail('cdc_no_free_slot', 'All replication slots are in use: raise max_replication_slots (and max_wal_senders) in postgresql.conf and restart, or drop unused slots (SELECT pg_drop_replication_slot(name)).');
  }
  if (code === '55006') {
    return fail('cdc_slot_in_use', `Replication slot ${ctx.slot} is in use by another connection: is another \`tessera cdc pull --source ${ctx.source}\` (or \`tessera start\`) running? Stop it first.`, true);
  }
  if (code === '42704' && /slot/i.test(message)) return slotLostError(ctx);
  return new CdcSourceError('cdc_source_failed', what, { retryable: true, details: { pgCode: code } });
}

export function walLevelError(source: string, level: string): CdcSourceError {
  return new CdcSourceError(
    'cdc_wal_level',
    `CDC source '${source}': wal_level is ${level}; logical replication needs wal_level=logical. Set wal_level = logical in postgresql.conf (ALTER SYSTEM SET wal_level = logical) and restart PostgreSQL.`,
  );
}

export function slotLostError(ctx: SourceContext): CdcSourceError {
  return new CdcSourceError(
    'cdc_slot_lost',
    `CDC source '${ctx.source}': replication slot ${ctx.slot} is gone (dropped, or invalidated because it fell behind max_slot_wal_keep_size) although the connector had streamed from it, so changes since its checkpoint are lost. ` +
      `Run \`tessera cdc pull --source ${ctx.source} --resnapshot\` to copy the tables again and stream from there.`,
  );
}

export function tablesAddedError(source: string, tables: readonly string[]): CdcSourceError {
  return new CdcSourceError(
    'cdc_tables_added',
    `CDC source '${source}': table(s) ${tables.join(', ')} were declared after the initial snapshot, so their existing rows were never copied. ` +
      `Run \`tessera cdc pull --source ${source} --resnapshot\` to copy every table again and stream from there.`,
  );
}
