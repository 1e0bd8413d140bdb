import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG_PATH, loadCatalog, requestTables, unknownTableMessage, type Catalog } from '../../src/catalog/catalog.js';
import { ConfigError } from '../../src/errors.js';
import { configError } from '../helpers/expect-error.js';
import { DATAVISION_TABLES as GENERATED_TABLES } from '../../src/demo/datavision-generator.js';

// the generator's list is the one the demo and the tests seed; the catalog must name the same 8 tables
const DATAVISION_TABLES = [...GENERATED_TABLES];

const PRIMARY_KEYS: Record<string, string[]> = {
  accounts: ['account_id'],
  subscriptions: ['subscription_id'],
  accounts_subscription: ['account_subscription_id'],
  contents: ['content_id'],
  content_attributes: ['attribute_id'],
  premium_features: ['feature_id'],
  account_premium_features: ['account_feature_id'],
  subscription_payments: ['payment_id'],
};


describe('the default DataVision catalog', () => {
  let catalog: Catalog;
  beforeAll(() => {
    catalog = loadCatalog(DEFAULT_CATALOG_PATH);
  });

  it('DEFAULT_CATALOG_PATH points at schemas/datavision.yaml, which exists', () => {
    expect(path.basename(DEFAULT_CATALOG_PATH)).toBe('datavision.yaml');
    expect(path.basename(path.dirname(DEFAULT_CATALOG_PATH))).toBe('schemas');
    expect(existsSync(DEFAULT_CATALOG_PATH)).toBe(true);
  });

  it('loadCatalog() without an argument reads the default catalog', () => {
    const c = loadCatalog();
    expect(c.path).toBe(DEFAULT_CATALOG_PATH);
    expect(c.tables.map((t) => t.name)).toEqual(DATAVISION_TABLES);
  });

  it('has the 8 DataVision tables, in file order', () => {
    expect(catalog.tables.map((t) => t.name)).toEqual(DATAVISION_TABLES);
    expect(catalog.path).toBe(DEFAULT_CATALOG_PATH);
    expect(catalog.datasetPrefix).toBe('raw_datavision');
  });

  it('declares each primary key', () => {
    for (const t of catalog.tables) expect([...t.primaryKey], t.name).toEqual(PRIMARY_KEYS[t.name]);
  });

  it('every table is in schema public with 48 h freshness (the defaults)', () => {
    for (const t of catalog.tables) {
      expect(t.schema, t.name).toBe('public');
      expect(t.freshnessHours, t.name).toBe(48);
    }
  });

  it('contents and content_attributes are merged on updated_at; the other 6 are replaced', () => {
    const merged = catalog.tables.filter((t) => t.writeDisposition === 'merge').map((t) => t.name);
    expect(merged).toEqual(['contents', 'content_attributes']);
    for (const t of catalog.tables) {
      if (merged.includes(t.name)) {
        expect(t.incremental, t.name).toEqual({ cursorColumn: 'updated_at', lag: undefined, reconcile: undefined });
      } else {
        expect(t.writeDisposition, t.name).toBe('replace');
        expect(t.incremental, t.name).toBeUndefined();
      }
    }
    expect(catalog.tables.filter((t) => t.writeDisposition === 'replace')).toHaveLength(6);
  });

  it('freshness is measured on updated_at except for the two tables without it', () => {
    const unmeasured = catalog.tables.filter((t) => t.freshnessColumn === undefined).map((t) => t.name);
    expect(unmeasured).toEqual(['account_premium_features', 'subscription_payments']);
    for (const t of catalog.tables) if (t.freshnessColumn !== undefined) expect(t.freshnessColumn).toBe('updated_at');
  });

  it('declares exactly the 7 relationships', () => {
    const rels = catalog.relationships.map((r) => ({
      table: r.table,
      columns: [...r.columns],
      references: r.references,
      referencedColumns: [...r.referencedColumns],
    }));
    expect(rels).toEqual([
      { table: 'contents', columns: ['account_id'], references: 'accounts', referencedColumns: ['account_id'] },
      { table: 'content_attributes', columns: ['content_id'], references: 'contents', referencedColumns: ['content_id'] },
      { table: 'accounts_subscription', columns: ['account_id'], references: 'accounts', referencedColumns: ['account_id'] },
      { table: 'accounts_subscription', columns: ['subscription_id'], references: 'subscriptions', referencedColumns: ['subscription_id'] },
      {
        table: 'subscription_payments',
        columns: ['account_subscription_id'],
        references: 'accounts_subscription',
        referencedColumns: ['account_subscription_id'],
      },
      { table: 'account_premium_features', columns: ['account_id'], references: 'accounts', referencedColumns: ['account_id'] },
      { table: 'account_premium_features', columns: ['feature_id'], references: 'premium_features', referencedColumns: ['feature_id'] },
    ]);
  });

  it('is frozen', () => {
    expect(Object.isFrozen(catalog)).toBe(true);
    expect(Object.isFrozen(catalog.tables)).toBe(true);
    expect(Object.isFrozen(catalog.relationships)).toBe(true);
    for (const t of catalog.tables) {
      expect(Object.isFrozen(t)).toBe(true);
      expect(Object.isFrozen(t.primaryKey)).toBe(true);
    }
  });
});

describe('loadCatalog on other files', () => {
  let dir: string;
  let counter = 0;
  const write = (text: string, ext = 'yaml'): string => {
    counter += 1;
    const file = path.join(dir, `catalog-${counter}.${ext}`);
    writeFileSync(file, text);
    return file;
  };
  const invalid = (text: string): { file: string; error: ConfigError } => {
    const file = write(text);
    const error = configError(() => loadCatalog(file));
    expect(error.message).toContain(file);
    return { file, error };
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ingesta-catalog-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('applies the defaults: prefix raw, schema public, replace, 48 h, no relationships', () => {
    const c = loadCatalog(write('version: 1\ntables:\n  t:\n    primary_key: [id]\n'));
    expect(c.datasetPrefix).toBe('raw');
    expect(c.relationships).toEqual([]);
    expect(c.tables).toEqual([
      {
        name: 't',
        schema: 'public',
        primaryKey: ['id'],
        writeDisposition: 'replace',
        schemaContract: 'evolve',
        unnest: [],
        incremental: undefined,
        freshnessColumn: undefined,
        freshnessHours: 48,
        freshnessTimezone: 'UTC',
        severity: { row_count: 'fail', duplicates: 'fail', referential_integrity: 'fail', freshness: 'fail' },
        checks: [],
      },
    ]);
  });

  it('reads severities and column checks, one kind per entry', () => {
    const c = loadCatalog(
      write(
        [
          'version: 1',
          'defaults: { severity: { freshness: warn }, check_severity: warn }',
          'tables:',
          '  t:',
          '    primary_key: [id]',
          '    severity: { row_count: warn }',
          '    checks:',
          '      - { column: a, not_null: true, severity: fail }',
          "      - { column: b, accepted_values: [x, 'y'] }",
          '      - { column: c, min: 0 }',
          '      - { column: c, max: 100 }',
          '      - { column: d, unique: true }',
        ].join('\n'),
      ),
    );
    const t = c.tables[0]!;
    expect(t.severity).toEqual({ row_count: 'warn', duplicates: 'fail', referential_integrity: 'fail', freshness: 'warn' });
    expect(t.checks).toEqual([
      { kind: 'not_null', column: 'a', severity: 'fail' },
      { kind: 'accepted_values', column: 'b', values: ['x', 'y'], severity: 'warn' },
      { kind: 'min', column: 'c', bound: 0, severity: 'warn' },
      { kind: 'max', column: 'c', bound: 100, severity: 'warn' },
      { kind: 'unique', column: 'd', severity: 'warn' },
    ]);
  });

  it('a column check naming two kinds (or none) is a ConfigError naming the file', () => {
    const file = write('version: 1\ntables:\n  t:\n    primary_key: [id]\n    checks:\n      - { column: a, not_null: true, unique: true }\n');
    expect(() => loadCatalog(file)).toThrow(ConfigError);
    expect(() => loadCatalog(file)).toThrow(file);
  });

  it('per-table schema, freshness and lag beat the defaults', () => {
    const c = loadCatalog(
      write(
        [
          'version: 1',
          'defaults: { schema: app, freshness_hours: 12 }',
          'tables:',
          '  a: { primary_key: [id] }',
          '  b:',
          '    schema: other',
          '    primary_key: [k1, k2]',
          '    write_disposition: merge',
          '    incremental: { cursor_column: changed_at, lag: 1 hour }',
          '    freshness_hours: 2.5',
        ].join('\n'),
      ),
    );
    const [a, b] = c.tables;
    expect(a).toMatchObject({ schema: 'app', freshnessHours: 12 });
    expect(b).toMatchObject({
      schema: 'other',
      primaryKey: ['k1', 'k2'],
      writeDisposition: 'merge',
      incremental: { cursorColumn: 'changed_at', lag: '1 hour' },
      freshnessHours: 2.5,
    });
  });

  it('accepts JSON (a subset of YAML)', () => {
    const c = loadCatalog(write(JSON.stringify({ version: 1, tables: { t: { primary_key: ['id'] } } }), 'json'));
    expect(c.tables.map((t) => t.name)).toEqual(['t']);
  });

  it('malformed YAML', () => {
    const { error } = invalid('version: 1\ntables:\n  t: [unclosed\n');
    expect(error.message).toMatch(/not valid YAML/);
  });

  it('duplicate keys are malformed YAML', () => {
    invalid('version: 1\ntables:\n  t: { primary_key: [id] }\n  t: { primary_key: [id] }\n');
  });

  it('an empty file', () => {
    invalid('');
  });

  it('an unknown key at the root, in a table, in defaults, in incremental, in a relationship', () => {
    const base = 'version: 1\ntables:\n  t: { primary_key: [id] }\n';
    expect(invalid(`${base}extra: 1\n`).error.message).toContain('extra');
    expect(invalid('version: 1\ntables:\n  t: { primary_key: [id], primary_keys: [id] }\n').error.message).toContain('primary_keys');
    expect(invalid(`${base}defaults: { schema: public, freshnes_hours: 3 }\n`).error.message).toContain('freshnes_hours');
    invalid('version: 1\ntables:\n  t: { primary_key: [id], write_disposition: merge, incremental: { cursor_column: u, lagg: 1h } }\n');
    invalid(`${base}relationships:\n  - { table: t, columns: [a], references: t, referenced_columns: [id], on_delete: cascade }\n`);
  });

  it('a wrong version, an empty primary key, an unknown write disposition, a bad prefix', () => {
    invalid('version: 2\ntables:\n  t: { primary_key: [id] }\n');
    invalid('tables:\n  t: { primary_key: [id] }\n');
    invalid('version: 1\ntables:\n  t: { primary_key: [] }\n');
    invalid('version: 1\ntables:\n  t: { primary_key: [id], write_disposition: append }\n');
    invalid('version: 1\ndataset_prefix: Raw-Data\ntables:\n  t: { primary_key: [id] }\n');
    invalid('version: 1\ntables:\n  t: { primary_key: [id], freshness_hours: 0 }\n');
  });

  it('merge without incremental names the table', () => {
    const { error } = invalid('version: 1\ntables:\n  events: { primary_key: [id], write_disposition: merge }\n');
    expect(error.message).toContain('events');
    expect(error.message).toContain('merge');
  });

  it('a relationship to an unknown table names it', () => {
    const { error } = invalid(
      'version: 1\ntables:\n  a: { primary_key: [id] }\nrelationships:\n  - { table: a, columns: [b_id], references: b, referenced_columns: [id] }\n',
    );
    expect(error.message).toContain('unknown table b');
  });

  it('a relationship from an unknown table names it', () => {
    const { error } = invalid(
      'version: 1\ntables:\n  a: { primary_key: [id] }\nrelationships:\n  - { table: ghost, columns: [a_id], references: a, referenced_columns: [id] }\n',
    );
    expect(error.message).toContain('ghost');
  });

  it('a relationship whose column counts differ', () => {
    const { error } = invalid(
      [
        'version: 1',
        'tables:',
        '  a: { primary_key: [k1, k2] }',
        '  b: { primary_key: [id] }',
        'relationships:',
        '  - { table: b, columns: [a_k1], references: a, referenced_columns: [k1, k2] }',
      ].join('\n'),
    );
    expect(error.message).toMatch(/1 columns but 2 referenced columns/);
  });

  it('a missing file', () => {
    const file = path.join(dir, 'nope', 'missing.yaml');
    const error = configError(() => loadCatalog(file));
    expect(error.message).toContain(file);
    expect(error.message).toContain('--catalog');
  });
});

describe('requestTables', () => {
  const catalog = loadCatalog(DEFAULT_CATALOG_PATH);
  const names = (requests: ReturnType<typeof requestTables>) =>
    requests.map((r) => (r.kind === 'catalog' ? r.table.name : `source:${r.ref.schema ?? ''}.${r.ref.name}`));

  it('undefined or [] asks for every catalog table, in catalog order', () => {
    expect(names(requestTables(catalog, undefined))).toEqual(DATAVISION_TABLES);
    expect(names(requestTables(catalog, []))).toEqual(DATAVISION_TABLES);
  });

  it('catalog tables follow catalog order, once each; other names follow, in the order given', () => {
    const picked = requestTables(catalog, ['subscription_payments', 'zeta', 'accounts', 'contents', 'accounts', 'sales.orders']);
    expect(names(picked)).toEqual(['accounts', 'contents', 'subscription_payments', 'source:.zeta', 'source:sales.orders']);
    expect(picked[0]).toEqual({ kind: 'catalog', table: catalog.tables[0] });
  });

  it('a quoted or differently cased name is looked up in the source, not taken from the catalog', () => {
    expect(names(requestTables(catalog, ['"accounts"', 'Accounts']))).toEqual(['source:.accounts', 'source:.Accounts']);
  });

  it('unknownTableMessage lists the names and the known catalog tables', () => {
    const message = unknownTableMessage(catalog, ['x', 'y']);
    expect(message).toContain('Unknown tables "x", "y"');
    expect(message).toContain(catalog.path);
    expect(message).toContain(DATAVISION_TABLES.join(', '));
  });

  it('a malformed name is a ConfigError', () => {
    configError(() => requestTables(catalog, ['"unterminated']));
    configError(() => requestTables(catalog, ['a.b.c']));
  });
});
