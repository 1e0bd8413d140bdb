import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCatalog, type CatalogTable } from '../../src/catalog/catalog.js';
import { resolveConfig } from '../../src/config/config.js';
import { reconciledTables } from '../../src/pipeline/resolve-tables.js';

/** The one representation of key reconciliation (catalog/reconcile-mode.ts): catalog → flags → each table's mode. */
const dir = mkdtempSync(path.join(tmpdir(), 'ingesta-reconcile-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function catalogTables(): CatalogTable[] {
  const file = path.join(dir, 'c.yaml');
  const incremental = (reconcile: string) => `    write_disposition: merge\n    primary_key: [id]\n    incremental:\n      cursor_column: at\n${reconcile}`;
  writeFileSync(
    file,
    'version: 1\ndataset_prefix: raw\ntables:\n' +
      `  plain:\n${incremental('')}\n` +
      `  asked:\n${incremental('      reconcile: true\n')}\n` +
      `  refused:\n${incremental('      reconcile: false\n')}\n` +
      '  full:\n    write_disposition: replace\n    primary_key: [id]\n',
  );
  return [...loadCatalog(file).tables];
}

const modes = (options: Parameters<typeof resolveConfig>[0], env: Record<string, string> = {}) =>
  Object.fromEntries(reconciledTables(resolveConfig(options, env).reconcile, catalogTables()));

describe('reconcile modes', () => {
  it("the catalog's true / false are read as 'always' / 'never'; absent leaves it to the run", () => {
    const byName = Object.fromEntries(catalogTables().map((t) => [t.name, t.incremental?.reconcile]));
    expect(byName).toEqual({ plain: undefined, asked: 'always', refused: 'never', full: undefined });
  });

  it("by default: 'auto', the catalog's own mode wins, a full table is never reconciled", () => {
    expect(modes({})).toEqual({ plain: 'auto', asked: 'always' });
  });

  it("--reconcile names a table: 'always' for it, even over the catalog's false", () => {
    expect(modes({ reconcile: ['refused'] })).toEqual({ plain: 'auto', asked: 'always', refused: 'always' });
    expect(modes({ reconcile: true })).toEqual({ plain: 'always', asked: 'always', refused: 'always' });
  });

  it("--no-reconcile / INGESTA_RECONCILE=off: no automatic mode; the catalog's true still compares the keys", () => {
    expect(modes({ reconcile: false })).toEqual({ asked: 'always' });
    expect(modes({}, { INGESTA_RECONCILE: 'off' })).toEqual({ asked: 'always' });
    expect(modes({}, { INGESTA_RECONCILE: 'plain' })).toEqual({ plain: 'always', asked: 'always' });
  });
});
