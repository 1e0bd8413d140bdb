import type { Command } from 'commander';
import { resolveConfig, type RunOptions } from '../config/config.js';
import { messageOf } from '../errors.js';
import { cdcSlotStatus, dropCdc } from '../pipeline/cdc-operations.js';
import type { StatusReport } from '../pipeline/operations.js';
import type { DatasetSettings } from '../config/dataset-settings.js';
import { hasSourceSetting } from '../config/source-connection.js';
import { formatBytes, type Renderer } from './output.js';

/** What the CLI's main program lends to its subcommands. */
export interface CommandKit {
  readonly withDatasetOptions: (command: Command) => Command;
  readonly renderer: (format: string | undefined) => Renderer;
  readonly fail: (renderer: Renderer, error: unknown) => number;
  readonly setExit: (code: number) => void;
}

/** `ingesta cdc drop`: removes the replication slot and publication of the destination and dataset. */
export function addCdcCommand(program: Command, kit: CommandKit): void {
  const cdc = program.command('cdc').description('change data capture: the replication slot and publication of a destination and dataset');
  kit
    .withDatasetOptions(
      cdc
        .command('drop')
        .description('remove the replication slot and publication of this destination and dataset from the source (its next CDC run loads in full)')
        .option('--source-url <url>', 'PostgreSQL URL [env DATABASE_URL]'),
    )
    .action(async (opts: Record<string, string | undefined>) => {
      let renderer = kit.renderer('text');
      try {
        renderer = kit.renderer(opts.logFormat);
        const config = resolveConfig({
          env: opts.env as RunOptions['env'], duckdbPath: opts.duckdbPath, dataset: opts.dataset, catalog: opts.catalog, sourceUrl: opts.sourceUrl,
        });
        const r = await dropCdc(config);
        renderer.info(
          r.droppedSlot || r.droppedPublication
            ? `dropped ${[r.droppedSlot ? `replication slot ${r.slot}` : '', r.droppedPublication ? `publication ${r.slot}` : ''].filter(Boolean).join(' and ')}`
            : `no replication slot or publication ${r.slot} in the source: nothing to drop`,
        );
        kit.setExit(0);
      } catch (error) {
        kit.setExit(kit.fail(renderer, error));
      }
    });
}

/** What `ingesta status` adds for CDC: what it skipped (joined to the report's `skipped`), then lines to print. */
export interface CdcStatus {
  readonly skipped: readonly string[];
  show(renderer: Renderer): void;
}

/**
 * `ingesta status`: for each dataset with a table loaded by CDC, the slot's lag and the WAL it keeps (with a warning
 * above the limit). Only then is the source read, and only when a setting says where it is (--source-url,
 * DATABASE_URL, DATABASE_*, PG*): libpq's defaults are never tried. The slot's name needs the destination's place only
 * (`settings`: no QUERY_RESULT_BUCKET, no catalog needed). What cannot be read is skipped, and status still succeeds.
 */
export async function readCdcStatus(
  options: RunOptions,
  settings: DatasetSettings,
  report: StatusReport,
): Promise<CdcStatus> {
  const skipped: string[] = [];
  const lines: ((renderer: Renderer) => void)[] = [];
  for (const ds of report.datasets) {
    if (!ds.tables.some((t) => t.cursorColumn?.startsWith('cdc:'))) continue;
    if (!hasSourceSetting(options.sourceUrl)) {
      skipped.push(`the CDC slot of ${ds.dataset} (no source setting: --source-url or DATABASE_URL shows its lag)`);
      continue;
    }
    let s: Awaited<ReturnType<typeof cdcSlotStatus>>;
    try {
      // the source's settings from the run's resolution, the destination's place from status's own (lenient) one
      const source = resolveConfig({ ...options, env: 'local', dataset: ds.dataset });
      s = await cdcSlotStatus({ ...source, env: settings.env, athena: settings.athena, duckdbPath: settings.duckdbPath });
    } catch (error) {
      skipped.push(`the CDC slot of ${ds.dataset} (the source could not be read: ${messageOf(error)})`);
      continue;
    }
    if (!s) {
      const message = `${ds.dataset}: tables are loaded by change data capture but the source has no replication slot for them: the next run loads them in full`;
      lines.push((r) => r.event({ type: 'warning', message }));
      continue;
    }
    const slot = s;
    const bytes = (v: string | null) => (v === null ? '?' : formatBytes(Number(v)));
    lines.push((r) => {
      r.info(
        `cdc slot ${slot.slot}: confirmed ${slot.confirmedLsn ?? '?'}, lag ${bytes(slot.lagBytes)}, oldest unconfirmed transaction ${slot.oldestUnconfirmed ?? 'none'}, ` +
          `WAL retained ${bytes(slot.retainedBytes)} (warning above ${formatBytes(slot.warningBytes)})${slot.active ? ', in use' : ''}`,
      );
      if (slot.warning) r.event({ type: 'warning', message: slot.warning });
    });
  }
  return { skipped, show: (renderer) => lines.forEach((line) => line(renderer)) };
}
