/**
 * Ejemplo simplificado (the original module's ingesta_ejemplo.py, in TypeScript): load one master table in full
 * (accounts, replace) and one incremental table (contents, merged on content_id by updated_at) into a local DuckDB
 * file, through ingesta's library API.
 *
 *   DATABASE_URL=postgres://user@host:5432/datavision npm run example
 */
import { run, type PipelineEvent } from '../src/index.js';

export async function ejemplo(sourceUrl: string, duckdbPath = 'data/ejemplo.duckdb') {
  const summary = await run(
    { env: 'local', tables: ['accounts', 'contents'], duckdbPath, sourceUrl },
    {
      onEvent: (event: PipelineEvent) => {
        if (event.type === 'extract_finished') console.log(`${event.table}: ${event.rows} filas extraídas`);
      },
    },
  );
  for (const t of summary.tables) {
    console.log(`${t.table}: carga ${t.mode === 'full' ? 'completa' : 'incremental'}, ${t.rowsInDestination} filas en ${summary.dataset}`);
  }
  return summary;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const url = process.env.DATABASE_URL;
  if (!url) {
    console.error('Set DATABASE_URL=postgres://user@host:port/database to run the example.');
    process.exit(2);
  }
  ejemplo(url).catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
