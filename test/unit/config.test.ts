import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.ts';
import { parseMigration } from '../../src/db/migrate-clickhouse.ts';

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig({}, '/srv/app');
    expect(config).toMatchObject({ HOST: '127.0.0.1', PORT: 8080, CLICKHOUSE_DATABASE: 'tessera', REDIS_KEY_PREFIX: 'tessera:' });
    expect(config.dataDir).toBe(path.resolve('/srv/app', '.tessera'));
    expect(config.DATABASE_URL).toBeUndefined();
  });

  it('treats empty URLs as unset (embedded defaults)', () => {
    expect(loadConfig({ DATABASE_URL: '', REDIS_URL: ' ' }).REDIS_URL).toBeUndefined();
  });

  it('names every invalid variable', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'not a url', CLICKHOUSE_DATABASE: 'drop table;' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain('PORT');
    expect(message).toContain('DATABASE_URL');
    expect(message).toContain('CLICKHOUSE_DATABASE');
  });
});

describe('parseMigration', () => {
  it('splits statements, drops comments and fills in the database', () => {
    const m = parseMigration('0002_more.sql', '-- note\nCREATE TABLE {db}.a (x UInt8) ENGINE = Memory;\n\nCREATE VIEW {db}.b AS SELECT 1;\n', 'shop');
    expect(m).toEqual({ version: 2, name: 'more', statements: ['CREATE TABLE `shop`.a (x UInt8) ENGINE = Memory', 'CREATE VIEW `shop`.b AS SELECT 1'] });
  });
  it('refuses a badly named file', () => {
    expect(() => parseMigration('events.sql', '', 'db')).toThrow('0001_what.sql');
  });
});
