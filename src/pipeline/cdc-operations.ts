import type pg from 'pg';
import { loadCatalog } from '../catalog/catalog.js';
import { cdcWalWarningBytes } from '../config/cdc-settings.js';
import type { RunConfig } from '../config/config.js';
import { destinationIdentity } from '../package/package-root.js';
import { closeSource, connectSource, sourceQueryError } from '../source/postgres/postgres-connection.js';
import { cdcSlotName, dropPublication, dropSlot, slotInfo, type SlotInfo } from '../source/postgres/cdc/cdc-slot.js';
import { quoteLiteral } from '../sql/quote.js';
import { datasetName } from './run-plan.js';

/** The slot (and publication) name of the configured destination and dataset. */
export function configuredSlot(config: RunConfig): { slot: string; dataset: string } {
  // a dataset named needs no catalog (status without one still finds the slot)
  const dataset = config.dataset ?? datasetName(config, loadCatalog(config.catalogPath));
  return { slot: cdcSlotName(destinationIdentity(config, dataset), dataset), dataset };
}

/**
 * `ingesta cdc drop`: removes the destination's replication slot and publication from the source, so it keeps no
 * WAL for ingesta any more. The destination keeps its data; its next CDC run creates a new slot and loads in full.
 */
export async function dropCdc(config: RunConfig): Promise<{ slot: string; droppedSlot: boolean; droppedPublication: boolean }> {
  const { slot } = configuredSlot(config);
  const client = await connectSource(config.source, config);
  try {
    const droppedSlot = await dropSlot(client, slot);
    const droppedPublication = await dropPublication(client, slot);
    return { slot, droppedSlot, droppedPublication };
  } finally {
    await closeSource(client);
  }
}

export interface CdcSlotStatus extends SlotInfo {
  /** Commit time of the oldest transaction the slot has not confirmed (null: nothing pending). */
  readonly oldestUnconfirmed: string | null;
  readonly warningBytes: number;
  readonly warning: string | undefined;
}

/**
 * The slot of the configured destination as `ingesta status` shows it: bytes of WAL not yet confirmed, the commit
 * time of the oldest unconfirmed transaction (decoded from the slot without consuming it), the WAL the slot keeps,
 * and a warning above INGESTA_CDC_WAL_WARNING (default 1 GB). Undefined when the source has no such slot.
 */
export async function cdcSlotStatus(config: RunConfig, warningBytes: number = cdcWalWarningBytes()): Promise<CdcSlotStatus | undefined> {
  const { slot } = configuredSlot(config);
  const client = await connectSource(config.source, config);
  try {
    const info = await slotInfo(client, slot);
    if (!info) return undefined;
    const oldestUnconfirmed = info.active ? null : await oldestPending(client, slot);
    const retained = Number(info.retainedBytes ?? 0);
    const warning =
      retained > warningBytes
        ? `replication slot ${slot} keeps ${retained} bytes of WAL on the source (more than ${warningBytes}): run ingesta (CDC) to catch up, or remove the slot with ingesta cdc drop`
        : undefined;
    return { ...info, oldestUnconfirmed, warningBytes, warning };
  } finally {
    await closeSource(client);
  }
}

/** The commit time of the first transaction after the slot's confirmed position (one transaction decoded, nothing consumed). */
async function oldestPending(client: pg.Client, slot: string): Promise<string | null> {
  try {
    const { rows } = await client.query<{ t: string | null }>(
      `SELECT (timestamptz '2000-01-01 00:00:00+00' + make_interval(secs => ('x' || substr(encode(data, 'hex'), 19, 16))::bit(64)::bigint / 1000000.0))::text AS t ` +
        `FROM pg_logical_slot_peek_binary_changes(${quoteLiteral(slot)}, NULL, 1, 'proto_version', '1', 'publication_names', ${quoteLiteral(slot)}) WHERE get_byte(data, 0) = 66 LIMIT 1`,
    );
    return rows[0]?.t ?? null;
  } catch (cause) {
    throw sourceQueryError(`Reading the oldest unconfirmed transaction of replication slot ${slot}`, cause);
  }
}
