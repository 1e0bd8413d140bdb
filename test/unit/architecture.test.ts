import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/** The part of madge's API used here (madge ships no types). */
interface MadgeResult {
  circular(): string[][];
  obj(): Record<string, string[]>;
  warnings(): { skipped: string[] };
}
type Madge = (path: string, config: Record<string, unknown>) => Promise<MadgeResult>;

const ROOT = path.resolve(import.meta.dirname, '../..');
const SRC = path.join(ROOT, 'src');

async function importGraph(): Promise<MadgeResult> {
  const specifier = 'madge';
  const madge = ((await import(specifier)) as { default: Madge }).default;
  return madge(SRC, {
    fileExtensions: ['ts'],
    tsConfig: path.join(ROOT, 'tsconfig.json'),
    // type-only imports count: a type imported upward is still a loop in the design
    detectiveOptions: { ts: { skipTypeImports: false } },
  });
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

describe('architecture', () => {
  it('has no import cycle under src/, type-only imports included', async () => {
    const graph = await importGraph();
    // every relative import resolved (a .js specifier that madge could not map to its .ts file would hide a cycle)
    expect(graph.warnings().skipped).toEqual([]);
    expect(Object.keys(graph.obj())).toContain('pipeline/run.ts');
    expect(graph.obj()['pipeline/run.ts']).toContain('pipeline/run-plan.ts');
    expect(graph.circular()).toEqual([]);
  }, 60_000);

  it('has no cycle between the folders of src/ either (cli → pipeline → destination → quality …, never back)', async () => {
    const graph = (await importGraph()).obj();
    // src/index.ts (the public exports) and src/errors.ts (used everywhere, imports nothing) stand outside the folders
    const folder = (file: string) => (file.includes('/') ? file.split('/')[0]! : undefined);
    const edges = new Map<string, Set<string>>();
    for (const [file, deps] of Object.entries(graph)) {
      for (const dep of deps) {
        const from = folder(file);
        const to = folder(dep);
        if (from && to && from !== to) edges.set(from, (edges.get(from) ?? new Set()).add(to));
      }
    }
    // a folder that reaches itself again is in a loop: list each loop as the folders on it
    const loops: string[][] = [];
    const visit = (start: string, at: string, trail: string[]) => {
      for (const next of edges.get(at) ?? []) {
        if (next === start) loops.push([...trail, start]);
        else if (!trail.includes(next) && next > start) visit(start, next, [...trail, next]);
      }
    };
    for (const start of edges.keys()) visit(start, start, [start]);
    expect(loops).toEqual([]);
    expect(edges.get('pipeline')).toContain('destination');
  }, 60_000);

  it('reads environment variables only in src/config/', () => {
    // the documented exceptions: the kill harnesses' fault hooks (src/faults/crash-points.ts says why), and the CLI's
    // start-up file, which sets (never reads) the AWS SDK's warning switch
    const exceptions = new Set(['faults/crash-points.ts', 'cli/node-support.ts']);
    const readers = sourceFiles(SRC)
      .map((file) => path.relative(SRC, file).split(path.sep).join('/'))
      .filter((rel) => !rel.startsWith('config/') && !exceptions.has(rel))
      .filter((rel) => /process\.env\b/.test(readFileSync(path.join(SRC, rel), 'utf8')));
    expect(readers).toEqual([]);
  });

  it('loads the DuckDB client with require, in one place (an ESM import of the CommonJS package costs 0.2–0.4 s of start-up)', () => {
    const importers = sourceFiles(SRC)
      .map((file) => path.relative(SRC, file).split(path.sep).join('/'))
      .filter((rel) => /^import (?!type\b)[^;]*from '@duckdb\/node-api'/m.test(readFileSync(path.join(SRC, rel), 'utf8')));
    expect(importers).toEqual([]);
    expect(readFileSync(path.join(SRC, 'normalize/duckdb-module.ts'), 'utf8')).toContain("require('@duckdb/node-api')");
  });
});
