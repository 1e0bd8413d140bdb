import { describe, expect, it } from 'vitest';
import { DUCKDB_CAPABILITIES } from '../../src/destination/duckdb/duckdb-destination.js';
import type { PipelineEvent } from '../../src/pipeline/events.js';
import { planBackfills } from '../../src/pipeline/backfill.js';
import type { TableRead } from '../../src/pipeline/table-read.js';

const read = (name: string, mode: 'full' | 'incremental'): TableRead =>
  ({ mode, reconcile: 'never', where: undefined, select: '', entry: { name, primaryKey: ['id'] } }) as unknown as TableRead;

describe('planBackfills (issue #13 item 6)', () => {
  const added = new Map([['acc', ['tier']], ['full_t', ['x']]]);

  it('an incremental read of a table that gained columns is backfilled on a destination that can; a full read needs none', () => {
    const events: PipelineEvent[] = [];
    const reads = planBackfills([read('acc', 'incremental'), read('full_t', 'full'), read('other', 'incremental')], added, DUCKDB_CAPABILITIES, (e) => events.push(e));
    expect(reads.map((r) => r.backfill)).toEqual([['tier'], undefined, undefined]);
    expect(events).toEqual([]);
  });

  it('a destination without the capability is not silent: a warning names --full-refresh', () => {
    const events: PipelineEvent[] = [];
    const reads = planBackfills([read('acc', 'incremental')], added, { ...DUCKDB_CAPABILITIES, columnBackfill: false }, (e) => events.push(e));
    expect(reads[0]!.backfill).toBeUndefined();
    expect(events).toEqual([{ type: 'warning', table: 'acc', message: expect.stringContaining('--full-refresh acc') }]);
  });
});
