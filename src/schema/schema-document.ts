import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';
import { DestinationError, messageOf } from '../errors.js';
import type { ColumnMapping } from '../normalize/column-mapping.js';

/** One destination table as exported and versioned: columns with their source names and types, key, disposition. */
export interface TableSchemaDoc {
  readonly table: string;
  /** schema.table in the source; for an unnested child table, the parent's. */
  readonly source: string;
  readonly write_disposition: string;
  readonly primary_key: readonly string[];
  /** Set on child tables made by unnesting a column. */
  readonly unnested_from?: { readonly table: string; readonly column: string };
  readonly columns: readonly {
    readonly name: string;
    readonly type: string;
    /** null for a column kept after the source dropped it, or made by ingesta (child tables). */
    readonly source_name: string | null;
    readonly source_type: string | null;
  }[];
}

export interface DatasetSchemaDoc {
  readonly dataset: string;
  /** Hash over every table's version hash: changes whenever any table's schema changes. */
  readonly version_hash: string;
  readonly tables: Readonly<Record<string, TableSchemaDoc & { readonly version_hash: string; readonly run_id: string }>>;
}

/** The schema document of a loaded table, from its final destination columns and the mapping that filled them. */
export function tableSchemaDoc(
  base: { table: string; source: string; writeDisposition: string; primaryKey: readonly string[]; unnestedFrom?: { table: string; column: string } },
  finalColumns: ReadonlyMap<string, string>,
  mapping: readonly Pick<ColumnMapping, 'name' | 'sourceName' | 'sourceType'>[],
): TableSchemaDoc {
  return {
    table: base.table,
    source: base.source,
    write_disposition: base.writeDisposition,
    primary_key: [...base.primaryKey],
    ...(base.unnestedFrom ? { unnested_from: base.unnestedFrom } : {}),
    columns: [...finalColumns].map(([name, type]) => {
      const m = mapping.find((c) => c.name === name);
      return { name, type, source_name: m?.sourceName ?? null, source_type: m?.sourceType ?? null };
    }),
  };
}

/** A short, stable hash of a JSON-able value (keys in insertion order, which the builders fix). */
export function versionHash(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** Writes `<dir>/<dataset>.schema.yaml` whole or not at all. */
export function writeSchemaExport(dir: string, doc: DatasetSchemaDoc): string {
  const file = path.join(dir, `${doc.dataset}.schema.yaml`);
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = `${file}.tmp-${process.pid}`;
    writeFileSync(tmp, `# written by ingesta after each load: the destination schema of ${doc.dataset}\n${stringify(doc)}`);
    renameSync(tmp, file);
  } catch (cause) {
    throw new DestinationError(`Cannot write the schema export ${file}: ${messageOf(cause)}. Use --schema-export DIR or --no-schema-export.`, { cause });
  }
  return file;
}
