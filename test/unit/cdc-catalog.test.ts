import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { resolveConfig } from '../../src/config/config.js';
import { cdcWalWarningBytes } from '../../src/config/cdc-settings.js';
import { cdcTables } from '../../src/pipeline/cdc-stage.js';

const dir = mkdtempSync(path.join(tmpdir(), 'ingesta-cdc-catalog-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function catalogOf(yaml: string) {
  const file = path.join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadCatalog(file);
}

describe('incremental: { method: cdc } and --cdc', () => {
  it('marks a catalog table for change data capture; cursor tables are unchanged', () => {
    const c = catalogOf(`version: 1
tables:
  orders:
    primary_key: [id]
    incremental: { method: cdc }
  items:
    primary_key: [id]
    write_disposition: merge
    incremental: { cursor_column: updated_at }
`);
    expect(c.tables.find((t) => t.name === 'orders')).toMatchObject({ cdc: true, incremental: undefined });
    expect(c.tables.find((t) => t.name === 'items')).toMatchObject({ incremental: { cursorColumn: 'updated_at' } });
    expect(c.tables.find((t) => t.name === 'items')!.cdc).toBeUndefined();
    expect(cdcTables({ cdc: false }, c.tables).map((t) => t.name)).toEqual(['orders']);
    expect(cdcTables({ cdc: true }, c.tables).map((t) => t.name)).toEqual(['orders', 'items']);
  });

  it('refuses a cursor column, lag or reconcile with method cdc, and incremental without either', () => {
    expect(() => catalogOf(`version: 1\ntables:\n  o:\n    incremental: { method: cdc, cursor_column: updated_at }\n`)).toThrow(/method cdc, which takes no cursor_column/);
    expect(() => catalogOf(`version: 1\ntables:\n  o:\n    incremental: { lag: 5m }\n`)).toThrow(/incremental without cursor_column \(or method: cdc\)/);
    expect(() => catalogOf(`version: 1\ntables:\n  o:\n    incremental: { method: log }\n`)).toThrow(/invalid/);
  });

  it('--cdc and INGESTA_CDC; INGESTA_CDC_WAL_WARNING sizes', () => {
    expect(resolveConfig({ cdc: true }, {}).cdc).toBe(true);
    expect(resolveConfig({}, { INGESTA_CDC: '1' }).cdc).toBe(true);
    expect(resolveConfig({}, {}).cdc).toBe(false);
    expect(cdcWalWarningBytes({})).toBe(1024 ** 3);
    expect(cdcWalWarningBytes({ INGESTA_CDC_WAL_WARNING: '512MB' })).toBe(512 * 1024 ** 2);
    expect(cdcWalWarningBytes({ INGESTA_CDC_WAL_WARNING: '2048' })).toBe(2048);
    expect(() => cdcWalWarningBytes({ INGESTA_CDC_WAL_WARNING: 'lots' })).toThrow(/INGESTA_CDC_WAL_WARNING must be a size/);
  });
});
