import { describe, expect, it } from 'vitest';
import type { CatalogTable } from '../../src/catalog/catalog.js';
import { DataError } from '../../src/errors.js';
import type { PipelineEvent } from '../../src/pipeline/events.js';
import { checkSchemas } from '../../src/pipeline/schema-check.js';
import type { SourceTable } from '../../src/source/postgres/postgres-introspector.js';
import { destinationNames } from '../../src/normalize/column-mapping.js';
import type { SourceColumn } from '../../src/source/postgres/source-column.js';
import { rejection } from '../helpers/expect-error.js';

function column(name: string, typeName: string): SourceColumn {
  return { name, formatType: typeName, typeName, typeCategory: 'U', elementTypeName: undefined, numericPrecision: undefined, numericScale: undefined, notNull: false };
}
function sourceTable(name: string, columns: [string, string][]): SourceTable {
  return { schema: 'public', name, kind: 'r', columns: columns.map(([n, t]) => column(n, t)), primaryKey: ['id'], foreignKeys: [] };
}
function catalogTable(name: string, extra: Partial<CatalogTable> = {}): CatalogTable {
  return {
    name, schema: 'public', primaryKey: ['id'], writeDisposition: 'merge', schemaContract: 'evolve', unnest: [],
    incremental: { cursorColumn: 'id', lag: undefined, reconcile: undefined }, freshnessColumn: undefined, freshnessHours: 24, freshnessTimezone: 'UTC',
    severity: { row_count: 'fail', duplicates: 'fail', referential_integrity: 'fail', freshness: 'warn' }, checks: [], ...extra,
  };
}

const DUCKDB_NAMING = { caseSensitive: false, lowerCase: false };
const ATHENA_NAMING = { caseSensitive: false, lowerCase: true };

interface Setup {
  tables: CatalogTable[];
  sources: Record<string, [string, string][]>;
  /** Destination columns per table (absent: the table does not exist). */
  destination?: Record<string, [string, string][]>;
  refresh?: string[];
  naming?: { caseSensitive: boolean; lowerCase: boolean };
  /** Tables read as changes this run (CDC from the stored position). */
  changesOnly?: string[];
}

async function check(setup: Setup) {
  const events: PipelineEvent[] = [];
  const addedColumns = new Map<string, string[]>();
  const columns = await checkSchemas(
    {
      tables: setup.tables,
      sources: new Map(Object.entries(setup.sources).map(([n, c]) => [n, sourceTable(n, c)])),
      refresh: new Set(setup.refresh ?? []),
      naming: setup.naming ?? DUCKDB_NAMING,
      describe: async (table) => new Map(setup.destination?.[table] ?? []),
      addedColumns,
      changesOnly: new Set(setup.changesOnly ?? []),
    },
    (e) => events.push(e),
  );
  const warnings = events.filter((e) => e.type === 'warning').map((e) => `${(e as { table?: string }).table}: ${(e as { message: string }).message}`);
  return { columns, warnings, addedColumns: Object.fromEntries(addedColumns) };
}

describe('checkSchemas: per change kind, per write disposition and contract', () => {
  const base: [string, string][] = [['id', 'int4'], ['name', 'text']];

  it('a table not yet in the destination: mapped, nothing compared, nothing reported', async () => {
    const r = await check({ tables: [catalogTable('t', { schemaContract: 'freeze' })], sources: { t: base } });
    expect(r.columns.get('t')!.map((c) => [c.name, c.destinationType])).toEqual([['id', 'INTEGER'], ['name', 'VARCHAR']]);
    expect(r.warnings).toEqual([]);
  });

  it('no change: silent, even under freeze', async () => {
    const r = await check({ tables: [catalogTable('t', { schemaContract: 'freeze' })], sources: { t: base }, destination: { t: [['id', 'INTEGER'], ['name', 'VARCHAR']] } });
    expect(r.warnings).toEqual([]);
    expect(r.addedColumns).toEqual({});
  });

  const changes: { name: string; disposition: 'merge' | 'replace'; refresh: boolean; source: [string, string][]; dest: [string, string][]; warnings?: string[]; added?: string[]; error?: string }[] = [
    {
      name: 'added column (merge): a warning, and the column listed for the backfill', disposition: 'merge', refresh: false,
      source: [...base, ['note', 'text']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column note (VARCHAR) is new in the source; added'], added: ['note'],
    },
    {
      name: 'added column (replace)', disposition: 'replace', refresh: false,
      source: [...base, ['note', 'text']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column note (VARCHAR) is new in the source; added'], added: ['note'],
    },
    {
      name: 'dropped column: kept in the destination', disposition: 'merge', refresh: false,
      source: [['id', 'int4']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column name (VARCHAR) no longer exists in the source; kept in the destination, NULL in new rows (--full-refresh t removes it)'],
    },
    {
      name: 'dropped column under --full-refresh: removed', disposition: 'merge', refresh: true,
      source: [['id', 'int4']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column name no longer exists in the source; removed by the full refresh'],
    },
    {
      name: 'widened column', disposition: 'merge', refresh: false,
      source: [['id', 'int8'], ['name', 'text']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column id widens from INTEGER to BIGINT'],
    },
    {
      name: 'incompatible column on a merge table: the run stops before anything is written', disposition: 'merge', refresh: false,
      source: [['id', 'int4'], ['name', 'int4']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      error: 'Incompatible schema change: t: column name changes from VARCHAR to INTEGER, which cannot hold every old value: run with --full-refresh t. Nothing was written.',
    },
    {
      name: 'incompatible column on a merge table under --full-refresh: rebuilt', disposition: 'merge', refresh: true,
      source: [['id', 'int4'], ['name', 'int4']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column name changes from VARCHAR to INTEGER, which cannot hold every old value; the table is rebuilt with the new type'],
    },
    {
      name: 'incompatible column on a replace table: rebuilt', disposition: 'replace', refresh: false,
      source: [['id', 'int4'], ['name', 'int4']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column name changes from VARCHAR to INTEGER, which cannot hold every old value; the table is rebuilt with the new type'],
    },
    {
      name: 'renamed column on a merge table: dropped + added, and a warning about what the older rows keep', disposition: 'merge', refresh: false,
      source: [['id', 'int4'], ['full_name', 'text']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: [
        't: column full_name (VARCHAR) is new in the source; added',
        't: column name (VARCHAR) no longer exists in the source; kept in the destination, NULL in new rows (--full-refresh t removes it)',
        't: name dropped and full_name added in the same change: if a column was renamed, the old name keeps its values in the older rows (NULL in new rows) and the new name is backfilled from the source where the destination can (else NULL in older rows) until --full-refresh t',
      ],
      added: ['full_name'],
    },
    {
      name: 'renamed column on a replace table: no rename warning (every row is rewritten)', disposition: 'replace', refresh: false,
      source: [['id', 'int4'], ['full_name', 'text']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: [
        't: column full_name (VARCHAR) is new in the source; added',
        't: column name (VARCHAR) no longer exists in the source; kept in the destination, NULL in new rows (--full-refresh t removes it)',
      ],
      added: ['full_name'],
    },
    {
      name: 'renamed column on a merge table under --full-refresh: the old one removed, no rename warning', disposition: 'merge', refresh: true,
      source: [['id', 'int4'], ['full_name', 'text']], dest: [['id', 'INTEGER'], ['name', 'VARCHAR']],
      warnings: ['t: column full_name (VARCHAR) is new in the source; added', 't: column name no longer exists in the source; removed by the full refresh'],
      added: ['full_name'],
    },
  ];
  it.each(changes)('$name', async ({ disposition, refresh, source, dest, warnings, added, error }) => {
    const setup: Setup = { tables: [catalogTable('t', { writeDisposition: disposition })], sources: { t: source }, destination: { t: dest }, refresh: refresh ? ['t'] : [] };
    if (error) {
      const e = await rejection(check(setup));
      expect(e).toBeInstanceOf(DataError);
      expect(e.message).toBe(error);
      return;
    }
    const r = await check(setup);
    expect(r.warnings).toEqual(warnings);
    expect(r.addedColumns).toEqual(added ? { t: added } : {});
  });

  it.each([
    ['added', [...base, ['note', 'text']] as [string, string][]],
    ['dropped', [['id', 'int4']] as [string, string][]],
    ['widened', [['id', 'int8'], ['name', 'text']] as [string, string][]],
    ['incompatible', [['id', 'int4'], ['name', 'int4']] as [string, string][]],
  ])('freeze: a %s column stops the run with the contract error', async (_kind, source) => {
    const e = await rejection(
      check({ tables: [catalogTable('t', { schemaContract: 'freeze', writeDisposition: 'replace' })], sources: { t: source }, destination: { t: [['id', 'INTEGER'], ['name', 'VARCHAR']] } }),
    );
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/^Table t has schema_contract freeze, but its source schema changed: t: column /);
  });

  it('freeze wins over --full-refresh', async () => {
    const e = await rejection(
      check({ tables: [catalogTable('t', { schemaContract: 'freeze' })], sources: { t: [['id', 'int8']] }, destination: { t: [['id', 'INTEGER']] }, refresh: ['t'] }),
    );
    expect(e.message).toContain('schema_contract freeze');
  });

  it('incompatible changes of several tables are reported together, in one error', async () => {
    const e = await rejection(
      check({
        tables: [catalogTable('a'), catalogTable('b')],
        sources: { a: [['id', 'int4'], ['x', 'date']], b: [['id', 'int2']] },
        destination: { a: [['id', 'INTEGER'], ['x', 'TIMESTAMP']], b: [['id', 'BIGINT']] },
      }),
    );
    expect(e.message).toBe(
      'Incompatible schema change: a: column x changes from TIMESTAMP to DATE, which cannot hold every old value: run with --full-refresh a; ' +
        'b: column id changes from BIGINT to SMALLINT, which cannot hold every old value: run with --full-refresh b. Nothing was written.',
    );
  });
});

describe('checkSchemas: a CDC table read as changes is a merge table to the schema rules, whatever its write_disposition', () => {
  const setup = { tables: [catalogTable('t', { writeDisposition: 'replace', incremental: undefined })], sources: { t: [['id', 'int4'], ['name', 'int4']] as [string, string][] }, destination: { t: [['id', 'INTEGER'], ['name', 'VARCHAR']] as [string, string][] } };

  it('an incompatible change stops the run (regression: warned "rebuilt with the new type", then merged into the old column)', async () => {
    const e = await rejection(check({ ...setup, changesOnly: ['t'] }));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toBe('Incompatible schema change: t: column name changes from VARCHAR to INTEGER, which cannot hold every old value: run with --full-refresh t. Nothing was written.');
  });

  it('reloaded in full (new slot, --full-refresh): rebuilt with the new type, as before', async () => {
    expect((await check({ ...setup })).warnings).toEqual(['t: column name changes from VARCHAR to INTEGER, which cannot hold every old value; the table is rebuilt with the new type']);
    expect((await check({ ...setup, changesOnly: ['t'], refresh: ['t'] })).warnings).toEqual(['t: column name changes from VARCHAR to INTEGER, which cannot hold every old value; the table is rebuilt with the new type']);
  });
});

describe('name mapping: collisions in the destination', () => {
  it.each<[string, string[], { caseSensitive: boolean; lowerCase: boolean }, string[]]>([
    ['DuckDB (case-insensitive, case kept): a second name equal but for case gets a suffix', ['Id', 'id', 'ID'], DUCKDB_NAMING, ['Id', 'id__2', 'ID__3']],
    ['Athena (lower-cased): every name lower-cased, collisions suffixed', ['Id', 'id', 'Name'], ATHENA_NAMING, ['id', 'id__2', 'name']],
    ['a suffix that is itself a source name is not reused', ['a', 'A', 'a__2'], ATHENA_NAMING, ['a', 'a__2', 'a__2__2']],
    ['a source name that looks like a suffix, first', ['a__2', 'a', 'A'], DUCKDB_NAMING, ['a__2', 'a', 'A__3']],
    ['case-sensitive destination: nothing changes', ['Id', 'id'], { caseSensitive: true, lowerCase: false }, ['Id', 'id']],
  ])('%s', (_name, sources, rule, want) => {
    const names = destinationNames(sources, rule);
    expect(names).toEqual(want);
    // no two destination names the destination would take as one
    const key = (n: string) => (rule.caseSensitive ? n : n.toLowerCase());
    expect(new Set(names.map(key)).size).toBe(names.length);
  });

  it('each mapped name is warned about once, and the destination is compared under the mapped names', async () => {
    const r = await check({
      tables: [catalogTable('t')],
      sources: { t: [['id', 'int4'], ['Code', 'text'], ['code', 'int4']] },
      destination: { t: [['id', 'INTEGER'], ['Code', 'VARCHAR'], ['code__2', 'INTEGER']] },
    });
    expect(r.columns.get('t')!.map((c) => [c.sourceName, c.name])).toEqual([['id', 'id'], ['Code', 'Code'], ['code', 'code__2']]);
    expect(r.warnings).toEqual(['t: column "code" is loaded as "code__2" (names differ only in case)']);
  });

  it('Athena naming: a mixed-case column is loaded lower-cased and compares equal to its lower-cased destination column', async () => {
    const r = await check({
      tables: [catalogTable('t')], naming: ATHENA_NAMING,
      sources: { t: [['id', 'int4'], ['OrderDate', 'date']] },
      destination: { t: [['id', 'INTEGER'], ['orderdate', 'DATE']] },
    });
    expect(r.warnings).toEqual(['t: column "OrderDate" is loaded as "orderdate" (names differ only in case)']);
    expect(r.addedColumns).toEqual({});
  });

  describe('a column renamed in the source only by case (regression: an all-NULL junk column beside the old one on DuckDB, warned about on every run)', () => {
    const renamed = { t: [['id', 'int4'], ['Title', 'text']] as [string, string][] };

    it.each<['merge' | 'replace']>([['merge'], ['replace']])('DuckDB, %s table: the stored column renamed, one warning, nothing added, dropped or backfilled', async (disposition) => {
      const r = await check({ tables: [catalogTable('t', { writeDisposition: disposition })], sources: renamed, destination: { t: [['id', 'INTEGER'], ['title', 'VARCHAR']] } });
      expect(r.columns.get('t')!.map((c) => c.name)).toEqual(['id', 'Title']);
      expect(r.warnings).toEqual(['t: column title is spelled Title in the source now (the same column to the destination); renamed']);
      expect(r.addedColumns).toEqual({});
      // the next run compares the renamed column: silent
      const next = await check({ tables: [catalogTable('t', { writeDisposition: disposition })], sources: renamed, destination: { t: [['id', 'INTEGER'], ['Title', 'VARCHAR']] } });
      expect(next.warnings).toEqual([]);
    });

    it('under freeze, the rename is a change: refused before anything is written', async () => {
      const e = await rejection(check({ tables: [catalogTable('t', { schemaContract: 'freeze' })], sources: renamed, destination: { t: [['id', 'INTEGER'], ['title', 'VARCHAR']] } }));
      expect(e).toBeInstanceOf(DataError);
      expect(e.message).toContain('t: column title is spelled Title in the source now (the same column to the destination); renamed');
    });

    it('Athena naming (lower case): the same column before and after, no schema change', async () => {
      const r = await check({ tables: [catalogTable('t')], naming: ATHENA_NAMING, sources: renamed, destination: { t: [['id', 'INTEGER'], ['title', 'VARCHAR']] } });
      expect(r.columns.get('t')!.map((c) => c.name)).toEqual(['id', 'title']);
      expect(r.warnings).toEqual(['t: column "Title" is loaded as "title" (names differ only in case)']);
      expect(r.addedColumns).toEqual({});
    });
  });
});
