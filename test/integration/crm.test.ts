import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openClickhouse } from '../../src/clients/clickhouse.ts';
import { openTestStores, type TestStores } from '../helpers/stores.ts';
import { openCliSandbox, type CliSandbox } from '../helpers/cli.ts';
import { buildTestApi, type TestApi } from '../helpers/api.ts';
import { shopSources } from '../../benchmarks/generator/shop-sources.ts';

interface CurrentRow {
  source: string;
  record_id: string;
  updated_at: string;
  traits: string;
  identifiers: string;
  record: string;
}

describe('POST /v1/crm/{source}/records', () => {
  let stores: TestStores;
  let api: TestApi;
  beforeAll(async () => {
    stores = await openTestStores();
    api = await buildTestApi(stores, { sources: shopSources() });
  });
  afterAll(async () => {
    await api?.app.close();
    await stores?.close();
  });

  const post = (url: string, payload: unknown, headers: Record<string, string> = {}) =>
    api.app.inject({ method: 'POST', url, payload: payload as object, headers: { authorization: api.basic, ...headers } });
  const current = (id: string) =>
    stores.ch.query<CurrentRow>(
      `SELECT source, record_id, toString(updated_at) AS updated_at, traits, identifiers, record FROM ${stores.ch.table('crm_records_current')} WHERE record_id = {id:String}`,
      { id },
    );

  it('stores records mapped to traits and identifiers before answering', async () => {
    const res = await post('/v1/crm/hubspot/records', [
      { id: 'c-1', email: 'Ann@Example.com', updated_at: '2026-02-01T09:30:00Z', lifecycle_stage: 'lead', score: '61.5', owner: 'kim' },
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ accepted: 1, rejected: [] });
    const [row] = await current('c-1');
    expect(row).toMatchObject({ source: 'hubspot', record_id: 'c-1', updated_at: '2026-02-01 09:30:00.000' });
    expect(JSON.parse(row!.traits)).toEqual({ lifecycle_stage: 'lead', score: 61.5 });
    expect(JSON.parse(row!.identifiers)).toEqual([
      ['email', 'Ann@Example.com'],
      ['crm_id', 'c-1'],
    ]);
    expect(JSON.parse(row!.record)).toMatchObject({ owner: 'kim' });
  });

  it('takes { records: [...] } too', async () => {
    const res = await post('/v1/crm/hubspot/records', { records: [{ id: 'c-2', updated_at: 1767225600000 }] });
    expect(res.json()).toEqual({ accepted: 1, rejected: [] });
    expect(await current('c-2')).toHaveLength(1);
  });

  it('keeps the latest updated_at when an older version arrives later', async () => {
    await post('/v1/crm/hubspot/records', [{ id: 'c-3', email: 'new@example.com', updated_at: '2026-03-02', lifecycle_stage: 'customer' }]);
    const late = await post('/v1/crm/hubspot/records', [{ id: 'c-3', email: 'old@example.com', updated_at: '2026-03-01', lifecycle_stage: 'lead' }]);
    expect(late.json()).toEqual({ accepted: 1, rejected: [] });
    const rows = await current('c-3');
    expect(rows).toHaveLength(1);
    expect(JSON.parse(rows[0]!.traits).lifecycle_stage).toBe('customer');
    // Every version stays in crm_records (identity resolution links an old email to a new one).
    const versions = await stores.ch.query<{ n: string }>(`SELECT count() AS n FROM ${stores.ch.table('crm_records')} FINAL WHERE record_id = 'c-3'`);
    expect(Number(versions[0]!.n)).toBe(2);
  });

  it('dead-letters bad records with the reason while the rest are stored', async () => {
    const res = await post('/v1/crm/hubspot/records', [
      { id: 'c-4', updated_at: '2026-01-01' },
      { updated_at: '2026-01-01' },
      { id: 'c-5', updated_at: 'yesterday' },
      { id: 'c-6', updated_at: '2026-01-01', score: 'high' },
      'nope',
      { id: 'c-7', updated_at: '2026-01-01', score: 3 },
    ]);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({
      accepted: 2,
      rejected: [
        { index: 1, code: 'missing_id', message: 'id is missing' },
        { index: 2, code: 'invalid_updated_at', message: 'updated_at "yesterday" is not a timestamp' },
        { index: 3, code: 'invalid_value', message: 'score "high" is not a float' },
        { index: 4, code: 'invalid_record', message: 'a record must be a JSON object (got "nope")' },
      ],
    });
    expect(await current('c-4')).toHaveLength(1);
    expect(await current('c-7')).toHaveLength(1);
    const dead = await stores.ch.query<{ origin: string; code: string; message: string; payload: string }>(
      `SELECT origin, code, message, payload FROM ${stores.ch.table('rejected_events')} WHERE source = 'crm:hubspot' ORDER BY position`,
    );
    expect(dead.map((d) => [d.origin, d.code])).toEqual([
      ['POST /v1/crm/hubspot/records#1', 'missing_id'],
      ['POST /v1/crm/hubspot/records#2', 'invalid_updated_at'],
      ['POST /v1/crm/hubspot/records#3', 'invalid_value'],
      ['POST /v1/crm/hubspot/records#4', 'invalid_record'],
    ]);
    expect(JSON.parse(dead[1]!.payload)).toEqual({ id: 'c-5', updated_at: 'yesterday' });
  });

  it('answers 404 for a source that is not declared', async () => {
    const res = await post('/v1/crm/salesforce/records', [{ id: 'x', updated_at: '2026-01-01' }]);
    expect(res.statusCode).toBe(404);
    expect(res.json().error).toMatchObject({ code: 'unknown_source' });
    expect(res.json().error.message).toContain('declared: hubspot');
  });

  it('answers 401 without a key and 403 with a read key', async () => {
    const none = await api.app.inject({ method: 'POST', url: '/v1/crm/hubspot/records', payload: [] });
    expect(none.statusCode).toBe(401);
    expect(none.json().error.code).toBe('unauthorized');
    const read = await post('/v1/crm/hubspot/records', [], { authorization: api.bearer });
    expect(read.statusCode).toBe(403);
  });

  it('answers 400 for a malformed body', async () => {
    const notRecords = await post('/v1/crm/hubspot/records', { contacts: [] });
    expect(notRecords.statusCode).toBe(400);
    expect(notRecords.json().error).toMatchObject({ code: 'invalid_request', message: expect.stringContaining('JSON array of records') });
    expect(notRecords.json().error.details).toBeDefined();
    const malformed = await post('/v1/crm/hubspot/records', '[{"id": ', { 'content-type': 'application/json' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json().error.code).toBe('invalid_json');
  });
});

/** Runs `tessera import crm` as a user would, then reads what the CLI's embedded ClickHouse stored. */
describe('tessera import crm', () => {
  let cli: CliSandbox;
  let dataDir: string;
  let chDatabase: string;
  const tessera = (...args: string[]) => cli.tessera(...args);
  const failing = (...args: string[]) => cli.failing(...args);

  beforeAll(async () => {
    cli = await openCliSandbox({ sources: { crm: shopSources().crm } });
    ({ dataDir, chDatabase } = cli);
  });
  afterAll(() => cli?.close());

  it('loads a ;-separated export with a BOM, quotes and line breaks, reporting bad rows by the line they start on', async () => {
    const file = path.join(dataDir, 'contacts.csv');
    const lines = [
      'id;email;updated_at;lifecycle_stage;score;notes', // 1
      'h-1;ann@example.com;2026-01-05 10:00:00;lead;12,5;"says ""hi""; likes CSV"', // 2: decimal comma is not a float
      'h-2;bob@example.com;2026-01-05;customer;40;"line one', // 3
      'line two"', // 4
      '', // 5
      'h-3;cy@example.com;soon;lead;1;x', // 6
      'h-4;dee@example.com;2026-01-06;lead;7', // 7: five fields
      'h-5;EVE@example.com;2026-01-07T08:00:00Z;lead;8;"a;b"', // 8
    ];
    await writeFile(file, `\uFEFF${lines.join('\r\n')}\r\n`);
    const { stdout, stderr } = await tessera('import', 'crm', file, '--source', 'hubspot');
    expect(stderr).toContain(`${file}:2: invalid_value: score "12,5" is not a float`);
    expect(stderr).toContain(`${file}:6: invalid_updated_at: updated_at "soon" is not a timestamp`);
    expect(stderr).toContain(`${file}:7: wrong_field_count: 5 fields; the header has 6`);
    expect(stdout).toMatch(/stored\s+2 records/);
    expect(stdout).toMatch(/lines\s+8/);

    const summary = JSON.parse((await tessera('import', 'crm', file, '--source', 'hubspot', '--json')).stdout);
    expect(summary).toMatchObject({ lines: 8, accepted: 2, rejected: 3, rejectedByCode: { invalid_value: 1, invalid_updated_at: 1, wrong_field_count: 1 } });
  });

  it('takes a mapping file for a source the config does not declare, and an explicit delimiter', async () => {
    const mapping = path.join(dataDir, 'salesforce.json');
    await writeFile(mapping, JSON.stringify({ idColumn: 'ContactId', updatedAtColumn: 'LastModified', identifiers: { Email: 'email' }, traits: ['Tier'] }));
    const file = path.join(dataDir, 'salesforce.csv');
    await writeFile(file, 'ContactId|Email|LastModified|Tier\nsf-1|fay@example.com|2026-04-01|gold\n');
    const summary = JSON.parse((await tessera('import', 'crm', file, '--source', 'salesforce', '--mapping', mapping, '--delimiter', '|', '--json')).stdout);
    expect(summary).toMatchObject({ accepted: 1, rejected: 0 });
  });

  it('explains a missing or invalid mapping and a header that does not fit it', async () => {
    const file = path.join(dataDir, 'other.csv');
    await writeFile(file, 'id,updated_at\n1,2026-01-01\n');
    const none = await failing('import', 'crm', file, '--source', 'pipedrive');
    expect(none.stderr).toContain("no mapping for CRM source 'pipedrive'");
    expect(none.stderr).toContain('--mapping FILE.json');
    expect(none.stderr).toContain('TESSERA_SOURCES_CONFIG');

    const bad = path.join(dataDir, 'bad-mapping.json');
    await writeFile(bad, JSON.stringify({ identifiers: { email: 'e-mail!' }, traits: { score: 'decimal' } }));
    const invalid = await failing('import', 'crm', file, '--source', 'pipedrive', '--mapping', bad);
    expect(invalid.stderr).toContain(`${bad}: identifiers.email: must be an identifier type name`);
    expect(invalid.stderr).toContain('traits');

    const header = await failing('import', 'crm', file, '--source', 'hubspot');
    expect(header.stderr).toContain(`${file}:1: the header has no column 'email' (identifiers)`);
  });

  it('stored the latest version of each record, and dead-lettered the bad rows with file:line', async () => {
    const ch = await openClickhouse({ target: { path: path.join(dataDir, 'clickhouse') }, database: chDatabase });
    try {
      const rows = await ch.query<CurrentRow>(`SELECT source, record_id, traits, identifiers, record FROM ${ch.table('crm_records_current')} ORDER BY source, record_id`);
      expect(rows.map((r) => [r.source, r.record_id])).toEqual([
        ['hubspot', 'h-2'],
        ['hubspot', 'h-5'],
        ['salesforce', 'sf-1'],
      ]);
      expect(JSON.parse(rows[0]!.record)).toMatchObject({ notes: 'line one\r\nline two' });
      expect(JSON.parse(rows[1]!.traits)).toEqual({ lifecycle_stage: 'lead', score: 8 });
      expect(JSON.parse(rows[1]!.identifiers)).toEqual([
        ['email', 'EVE@example.com'],
        ['crm_id', 'h-5'],
      ]);
      expect(JSON.parse(rows[2]!.traits)).toEqual({ Tier: 'gold' });
      const dead = await ch.query<{ origin: string; code: string; payload: string }>(
        `SELECT DISTINCT origin, code, payload FROM ${ch.table('rejected_events')} WHERE source = 'crm:hubspot' ORDER BY origin`,
      );
      expect(dead.map((d) => [d.origin, d.code])).toEqual([
        ['contacts.csv:2', 'invalid_value'],
        ['contacts.csv:6', 'invalid_updated_at'],
        ['contacts.csv:7', 'wrong_field_count'],
      ]);
      expect(dead[2]!.payload).toBe('h-4;dee@example.com;2026-01-06;lead;7');
    } finally {
      await ch.close();
    }
  });
});
