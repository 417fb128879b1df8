import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { prepareCrmRecords } from '../../src/crm/prepare-crm-records.ts';
import { detectDelimiter, readCsv, type CsvItem } from '../../src/crm/csv-reader.ts';
import { checkHeader, rowToRecord } from '../../src/crm/crm-csv-import.ts';
import { crmMappingSchema } from '../../src/sources/sources-config.ts';

const mapping = crmMappingSchema.parse({
  identifiers: { email: 'email', id: 'crm_id' },
  traits: { stage: 'string', score: 'float', vip: 'bool', signed_up: 'timestamp', employees: 'int' },
});

describe('prepareCrmRecords', () => {
  it('maps id, updated_at, identifiers and typed traits, keeping the record as received', () => {
    const record = { id: 42, email: 'Ann@Example.com', updated_at: '2026-03-01T10:00:00Z', stage: 'lead', score: '7.5', vip: 'yes', signed_up: '2026-01-02', employees: '12', extra: 'kept' };
    const { rows, rejections } = prepareCrmRecords('hubspot', mapping, [record]);
    expect(rejections).toEqual([]);
    expect(rows).toEqual([
      {
        source: 'hubspot',
        record_id: '42',
        updated_at: Date.parse('2026-03-01T10:00:00Z'),
        traits: JSON.stringify({ stage: 'lead', score: 7.5, vip: true, signed_up: Date.parse('2026-01-02T00:00:00Z'), employees: 12 }),
        identifiers: JSON.stringify([['email', 'Ann@Example.com'], ['crm_id', '42']]),
        record: JSON.stringify(record),
      },
    ]);
  });

  it('skips empty identifiers and stores absent or empty traits as null (empty strings stay strings)', () => {
    const { rows } = prepareCrmRecords('hubspot', mapping, [{ id: ' c-1 ', email: '  ', updated_at: 1767225600, stage: '', score: '' }]);
    expect(rows[0]!.record_id).toBe('c-1');
    expect(rows[0]!.updated_at).toBe(1767225600_000);
    expect(JSON.parse(rows[0]!.identifiers)).toEqual([['crm_id', ' c-1 ']]);
    expect(JSON.parse(rows[0]!.traits)).toEqual({ stage: '', score: null, vip: null, signed_up: null, employees: null });
  });

  it('keeps every version of a record (the latest updated_at is picked when read)', () => {
    const { rows } = prepareCrmRecords('hubspot', mapping, [
      { id: 'c', updated_at: '2026-01-02' },
      { id: 'c', updated_at: '2026-01-01' },
    ]);
    expect(rows.map((r) => r.updated_at)).toEqual([Date.UTC(2026, 0, 2), Date.UTC(2026, 0, 1)]);
  });

  it('rejects each bad record with a precise reason, by index, and keeps the good ones', () => {
    const records = [
      'not a record',
      [1, 2],
      { updated_at: '2026-01-01' },
      { id: '  ', updated_at: '2026-01-01' },
      { id: { nested: true }, updated_at: '2026-01-01' },
      { id: 'a' },
      { id: 'b', updated_at: 'yesterday' },
      { id: 'c', updated_at: '3000-01-01' },
      { id: 'd', updated_at: '2026-01-01', score: 'high' },
      { id: 'e', updated_at: '2026-01-01', employees: 1.5 },
      { id: 'f', updated_at: '2026-01-01', email: { address: 'x@y.z' } },
      { id: 'ok', updated_at: '2026-01-01' },
    ];
    const { rows, rejections } = prepareCrmRecords('hubspot', mapping, records);
    expect(rows.map((r) => r.record_id)).toEqual(['ok']);
    expect(rejections.map(({ index, code, message }) => ({ index, code, message }))).toEqual([
      { index: 0, code: 'invalid_record', message: 'a record must be a JSON object (got "not a record")' },
      { index: 1, code: 'invalid_record', message: 'a record must be a JSON object (got an array)' },
      { index: 2, code: 'missing_id', message: 'id is missing' },
      { index: 3, code: 'missing_id', message: 'id is empty' },
      { index: 4, code: 'invalid_id', message: 'id {"nested":true} is not a string or a number' },
      { index: 5, code: 'missing_updated_at', message: 'updated_at is missing' },
      { index: 6, code: 'invalid_updated_at', message: 'updated_at "yesterday" is not a timestamp' },
      { index: 7, code: 'invalid_updated_at', message: 'updated_at "3000-01-01" is not a timestamp between 1900 and 2299' },
      { index: 8, code: 'invalid_value', message: 'score "high" is not a float' },
      { index: 9, code: 'invalid_value', message: 'employees 1.5 is not a int' },
      { index: 10, code: 'invalid_value', message: 'email {"address":"x@y.z"} is not a string or a number' },
    ]);
    expect(rejections[6]!.payload).toBe(JSON.stringify(records[6]));
  });

  it('uses the mapping’s own id and updated_at columns', () => {
    const custom = crmMappingSchema.parse({ idColumn: 'contact_id', updatedAtColumn: 'modified', identifiers: {}, traits: ['plan'] });
    const { rows, rejections } = prepareCrmRecords('salesforce', custom, [{ contact_id: 7, modified: '2026-05-05 12:00:00', plan: 3 }, { id: 8, updated_at: '2026-05-05' }]);
    expect(rows).toMatchObject([{ record_id: '7', updated_at: Date.UTC(2026, 4, 5, 12), traits: '{"plan":"3"}', identifiers: '[]' }]);
    expect(rejections).toMatchObject([{ index: 1, code: 'missing_id', message: 'contact_id is missing' }]);
  });
});

async function csv(text: string | Buffer, chunkSize?: number): Promise<{ items: CsvItem[]; lines: number }> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const chunks = chunkSize ? Array.from({ length: Math.ceil(bytes.length / chunkSize) }, (_, i) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize)) : [bytes];
  const reader = readCsv(Readable.from(chunks), { delimiter: detectDelimiter(bytes.toString('utf8')) });
  const items: CsvItem[] = [];
  for await (const item of reader.items) items.push(item);
  return { items, lines: reader.lines() };
}
const rows = (items: CsvItem[]) => items.map((i) => (i.kind === 'row' ? [i.line, i.fields] : [i.line, i.code]));

describe('CSV reading', () => {
  it('reads quoted fields holding delimiters, doubled quotes and line breaks, with their start lines', async () => {
    const { items, lines } = await csv('id,name,note\n1,"Doe, Jane","said ""hi"""\n2,"two\nline\nnote",x\n3,plain,y\n');
    expect(rows(items)).toEqual([
      [1, ['id', 'name', 'note']],
      [2, ['1', 'Doe, Jane', 'said "hi"']],
      [3, ['2', 'two\nline\nnote', 'x']],
      [6, ['3', 'plain', 'y']],
    ]);
    expect(lines).toBe(6);
  });

  it('counts lines the same with \\r\\n, inside quoted fields too, and across any chunking', async () => {
    const text = 'id,note\r\n1,"a\r\nb"\r\n\r\n2,c\r\n';
    for (const chunk of [undefined, 1, 3]) {
      const { items } = await csv(text, chunk);
      expect(rows(items), `chunks of ${chunk}`).toEqual([
        [1, ['id', 'note']],
        [2, ['1', 'a\r\nb']],
        [5, ['2', 'c']],
      ]);
    }
  });

  it('drops a UTF-8 BOM', async () => {
    const { items } = await csv(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('id,email\n1,a@b.c\n')]));
    expect(rows(items)[0]).toEqual([1, ['id', 'email']]);
  });

  it('detects ; and , from the header line, ignoring quoted ones', () => {
    expect(detectDelimiter('\uFEFFid;name;"a,b,c"\n1,2,3,4,5,6')).toBe(';');
    expect(detectDelimiter('id,name,"x;y;z"\n')).toBe(',');
    expect(detectDelimiter('id\tname\n')).toBe('\t');
    expect(detectDelimiter('id\n')).toBe(',');
  });

  it('reads ;-separated files with decimal commas', async () => {
    const { items } = await csv('id;score;note\n1;7,5;"a;b"\n');
    expect(rows(items)).toEqual([
      [1, ['id', 'score', 'note']],
      [2, ['1', '7,5', 'a;b']],
    ]);
  });

  it('skips empty lines, still counting them', async () => {
    const { items } = await csv('\nid,x\n\n\n1,a\n\n2,b');
    expect(rows(items)).toEqual([
      [2, ['id', 'x']],
      [5, ['1', 'a']],
      [7, ['2', 'b']],
    ]);
  });

  it('passes rows of the wrong width through with their lines; the import rejects them', async () => {
    const { items } = await csv('id,a,b\n1,x,y\n2,x\n3,x,y,z\n4,"x\n",y\n');
    expect(rows(items)).toEqual([
      [1, ['id', 'a', 'b']],
      [2, ['1', 'x', 'y']],
      [3, ['2', 'x']],
      [4, ['3', 'x', 'y', 'z']],
      [5, ['4', 'x\n', 'y']],
    ]);
    const header = ['id', 'a', 'b'];
    expect(rowToRecord(header, ['2', 'x'])).toEqual({ ok: false, code: 'wrong_field_count', message: '2 fields; the header has 3' });
    expect(rowToRecord(header, ['3', 'x', 'y', 'z'])).toEqual({ ok: false, code: 'wrong_field_count', message: '4 fields; the header has 3' });
    expect(rowToRecord([...header, ''], ['1', 'x', 'y', ''])).toEqual({ ok: true, record: { id: '1', a: 'x', b: 'y' } });
  });

  it('keeps a stray quote inside a field, and reports a quote never closed at the line it opens', async () => {
    const { items } = await csv('id,name\n1,O"Brien\n2,"open\n3,after\n');
    expect(items).toEqual([
      { kind: 'row', line: 1, fields: ['id', 'name'], raw: 'id,name' },
      { kind: 'row', line: 2, fields: ['1', 'O"Brien'], raw: '1,O"Brien' },
      { kind: 'bad_row', line: 3, code: 'invalid_csv', message: expect.stringContaining('never closed'), raw: '2,"open\n3,after' },
    ]);
  });
});

describe('CSV header against the mapping', () => {
  it('trims names and accepts a header holding every mapped column', () => {
    expect(checkHeader('f.csv', [' id', 'email ', 'updated_at', 'stage', 'score', 'vip', 'signed_up', 'employees', 'other', ''], mapping)).toEqual([
      'id', 'email', 'updated_at', 'stage', 'score', 'vip', 'signed_up', 'employees', 'other', '',
    ]);
  });

  it('names the missing columns and what the mapping reads them for', () => {
    expect(() => checkHeader('f.csv', ['id', 'email', 'stage'], mapping)).toThrow(
      "f.csv:1: the header has no column 'updated_at' (updatedAtColumn), 'score' (traits), 'vip' (traits), 'signed_up' (traits), 'employees' (traits); it has id, email, stage",
    );
  });

  it('refuses a column named twice', () => {
    expect(() => checkHeader('f.csv', ['id', 'id'], mapping)).toThrow("f.csv:1: the header names column 'id' twice");
  });
});
