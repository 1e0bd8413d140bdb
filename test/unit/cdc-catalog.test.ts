import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog } from '../../src/catalog/catalog.js';
import { resolveConfig } from '../../src/config/config.js';
import { cdcWalWarningBytes } from '../../src/config/cdc-settings.js';
import { cdcTables, startCdc } from '../../src/pipeline/cdc-stage.js';
import type { Destination } from '../../src/destination/destination.js';
import type pg from 'pg';
import { ATHENA_CAPABILITIES } from '../../src/destination/athena/athena-destination.js';

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

  it('a destination without the changeDataCapture capability refuses CDC with exit 2 before the source is asked anything', async () => {
    const c = catalogOf(`version: 1\ntables:\n  orders:\n    primary_key: [id]\n    incremental: { method: cdc }\n`);
    const destination = { capabilities: { transactional: false, keyReconciliation: true } } as unknown as Destination;
    const client = { query: () => Promise.reject(new Error('the source must not be asked')) } as unknown as pg.Client;
    const config = resolveConfig({}, {});
    await expect(startCdc(client, config, c.tables, new Set(), destination, { destination: 's3://b/p#raw', dataset: 'raw' }, () => undefined)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/Change data capture .*orders.* is not available on this destination yet/),
    });
  });

  it('dev/prod (no keylessChangeDataCapture) refuses a CDC table without a key with exit 2 before the source is asked anything', async () => {
    const c = catalogOf(`version: 1\ntables:\n  orders:\n    primary_key: [id]\n    incremental: { method: cdc }\n  events:\n    incremental: { method: cdc }\n`);
    const destination = { capabilities: ATHENA_CAPABILITIES } as unknown as Destination;
    const client = { query: () => Promise.reject(new Error('the source must not be asked')) } as unknown as pg.Client;
    await expect(startCdc(client, resolveConfig({}, {}), c.tables, new Set(), destination, { destination: 's3://b/p#raw', dataset: 'raw' }, () => undefined)).rejects.toMatchObject({
      exitCode: 2,
      message: expect.stringMatching(/Change data capture of events \(no primary key; REPLICA IDENTITY FULL\) is not available on this destination.*Declare primary_key/),
    });
  });
});
