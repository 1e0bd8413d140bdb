import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ATHENA_CAPABILITIES } from '../../src/destination/athena/athena-destination.js';
import { beginLoadOf, keyReconcilerOf, type Destination, type DestinationCapabilities, type LoadSession } from '../../src/destination/destination.js';
import { DUCKDB_CAPABILITIES } from '../../src/destination/duckdb/duckdb-destination.js';
import type { KeyReconciler } from '../../src/destination/key-reconciler.js';
import { DestinationError } from '../../src/errors.js';

const PIPELINE = fileURLToPath(new URL('../../src/pipeline/', import.meta.url));
const reconciler: KeyReconciler = { diffKeys: async () => ({ refetch: [], deleted: 0 }), countAfterMerge: async () => undefined };
const session: LoadSession = { loadTable: async () => undefined, commit: async () => [], abort: async () => undefined };

/** Only what the accessors read: the capability data, and the members they switch on. */
function destination(capabilities: Partial<DestinationCapabilities>, members: Partial<Pick<Destination, 'reconciler' | 'beginLoad'>>): Destination {
  return { capabilities: { ...DUCKDB_CAPABILITIES, ...capabilities }, ...members } as unknown as Destination;
}

describe('the optional parts of a destination are chosen by its capability data', () => {
  it('a flag that is false hides the member even when the object has one (the pipeline reads the flag, never probes)', async () => {
    expect(keyReconcilerOf(destination({ keyReconciliation: false }, { reconciler }))).toBeUndefined();
    expect(await beginLoadOf(destination({ loadWhileExtracting: false }, { beginLoad: async () => session }), { runId: 'r' }, '/tmp')).toBeUndefined();
  });

  it('a flag that is true gives the member', async () => {
    expect(keyReconcilerOf(destination({ keyReconciliation: true }, { reconciler }))).toBe(reconciler);
    expect(await beginLoadOf(destination({ loadWhileExtracting: true }, { beginLoad: async () => session }), { runId: 'r' }, '/tmp')).toBe(session);
  });

  it('a flag that is true without its member is a DestinationError, not a silent fallback', async () => {
    expect(() => keyReconcilerOf(destination({ keyReconciliation: true }, {}))).toThrow(DestinationError);
    await expect(beginLoadOf(destination({ loadWhileExtracting: true }, {}), { runId: 'r' }, '/tmp')).rejects.toThrow(DestinationError);
  });

  it('every flag the two destinations declare is read (by the pipeline, or by the accessors above)', () => {
    const readers = [...readdirSync(PIPELINE).map((f) => path.join(PIPELINE, f)), fileURLToPath(new URL('../../src/destination/destination.ts', import.meta.url))];
    const code = readers.map((f) => readFileSync(f, 'utf8')).join('\n');
    for (const flag of new Set([...Object.keys(DUCKDB_CAPABILITIES), ...Object.keys(ATHENA_CAPABILITIES)])) {
      expect(code, `capabilities.${flag} is read somewhere`).toContain(`capabilities.${flag}`);
    }
    expect(Object.keys(ATHENA_CAPABILITIES).sort()).toEqual(Object.keys(DUCKDB_CAPABILITIES).sort());
    expect(DUCKDB_CAPABILITIES.loadWhileExtracting).toBe(true);
    expect(ATHENA_CAPABILITIES.loadWhileExtracting).toBe(false);
  });
});
