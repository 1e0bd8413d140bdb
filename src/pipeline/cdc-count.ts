import { devNull } from 'node:os';
import type pg from 'pg';
import type { CatalogTable } from '../catalog/catalog.js';
import type { TableState } from '../destination/destination.js';
import { sourceQueryError } from '../source/postgres/postgres-connection.js';
import { countRows } from '../source/postgres/source-profile.js';
import { cdcSlotName, flushedPosition, slotInfo } from '../source/postgres/cdc/cdc-slot.js';
import { lsnValue } from '../source/postgres/cdc/pgoutput-decoder.js';
import { readChanges } from './cdc-changes.js';
import { cdcCursorColumn } from './cdc-stage.js';
import type { EventListener } from './events.js';

/**
 * --solo-validar on the tables the destination holds by change data capture: the source's row count at the LSN the
 * destination holds (E), not now — the count in the gate's snapshot minus the net rows (inserts − deletes) of the
 * transactions it sees that commit at or after E, decoded from the slot without consuming anything (the same
 * correction as after a load, cdc-stage.ts). Called inside the gate's snapshot. A table is left out (counted now, as
 * any table) when the slot is gone or confirmed past E, the tables hold different positions, a TRUNCATE falls
 * after E (a note says why).
 */
export async function cdcCountsAtStoredLsn(
  client: pg.Client,
  tables: readonly CatalogTable[],
  state: ReadonlyMap<string, TableState>,
  identity: { readonly destination: string; readonly dataset: string },
  emit: EventListener,
): Promise<Map<string, number>> {
  const slot = cdcSlotName(identity.destination, identity.dataset);
  const cdc = tables.filter((t) => state.get(t.name)?.cursorColumn === cdcCursorColumn(slot) && state.get(t.name)?.cursorValue != null);
  const out = new Map<string, number>();
  if (cdc.length === 0) return out;
  const note = (why: string) => emit({ type: 'note', message: `change data capture: ${cdc.map((t) => t.name).join(', ')} counted now, not at the stored LSN: ${why}` });
  const positions = new Set(cdc.map((t) => state.get(t.name)!.cursorValue!));
  if (positions.size > 1) {
    note(`the tables hold different positions (${[...positions].join(', ')})`);
    return out;
  }
  const stored = [...positions][0]!;
  // (inside the gate's snapshot transaction: a failing query here fails the gate, exit 3, e.g. while a CDC run of
  // this destination holds the slot)
  {
    const info = await slotInfo(client, slot);
    if (!info || (info.confirmedLsn !== null && lsnValue(info.confirmedLsn) > lsnValue(stored))) {
      note(info ? `replication slot ${slot} was confirmed past the stored ${stored}` : `replication slot ${slot} does not exist`);
      return out;
    }
    // every transaction the snapshot sees committed before this position
    const after = await flushedPosition(client);
    const targets = cdc.map((t) => ({ schema: t.schema, name: t.name, columns: [], primaryKey: [], file: devNull }));
    const read = await readChanges(client, slot, slot, stored, stored, targets, after);
    for (const t of cdc) {
      const correction = read.corrections.get(t.name)!;
      if (!correction.exact) {
        emit({ type: 'note', message: `change data capture: ${t.name} was truncated after the stored LSN ${stored}; counted now` });
        continue;
      }
      const rows = await countRows(client, t.schema, t.name).catch((cause: unknown) => {
        throw sourceQueryError(`Counting the rows of ${t.schema}.${t.name}`, cause);
      });
      out.set(t.name, rows - correction.net);
    }
  }
  return out;
}
