/** A source column as the introspector reads it from pg_catalog. */
export interface SourceColumn {
  readonly name: string;
  /** format_type() of the column, e.g. `numeric(10,2)`, `timestamp with time zone`. */
  readonly formatType: string;
  /** For a domain: format_type() of its base type (`timestamp with time zone` for a domain over timestamptz). */
  readonly baseFormatType?: string;
  /** Base type name (domains resolved), e.g. `numeric`, `timestamptz`, `_int4` for arrays. */
  readonly typeName: string;
  /** pg_type.typcategory of the base type: A array, E enum, N numeric, … */
  readonly typeCategory: string;
  /** Element type name for arrays (e.g. `int4`), else undefined. */
  readonly elementTypeName: string | undefined;
  readonly numericPrecision: number | undefined;
  readonly numericScale: number | undefined;
  readonly notNull: boolean;
  /** Declared array dimensions (pg_attribute.attndims); 0 for non-arrays. */
  readonly dimensions?: number;
}

/** The type PostgreSQL compares a column's values in: a domain's base type, else the column's own type. */
export function comparisonType(column: Pick<SourceColumn, 'formatType' | 'baseFormatType'>): string {
  return column.baseFormatType ?? column.formatType;
}
