import type { Command } from 'commander';
import { resolveConfig, type RunOptions } from '../config/config.js';
import { messageOf } from '../errors.js';
import { cdcSlotStatus, dropCdc } from '../pipeline/cdc-operations.js';
import type { StatusReport } from '../pipeline/operations.js';
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

/**
 * `ingesta status`: for each dataset with a table loaded by CDC, the slot's lag and the WAL it keeps (with a warning
 * above the limit). Only then is the source read; when it cannot be (no source settings, unreachable), one line says
 * what was skipped and status still succeeds.
 */
export async function renderCdcStatus(options: RunOptions, report: StatusReport, renderer: Renderer): Promise<void> {
  for (const ds of report.datasets) {
    if (!ds.tables.some((t) => t.cursorColumn?.startsWith('cdc:'))) continue;
    let s: Awaited<ReturnType<typeof cdcSlotStatus>>;
    try {
      s = await cdcSlotStatus(resolveConfig({ ...options, dataset: ds.dataset }));
    } catch (error) {
      renderer.info(`skipped: the CDC slot of ${ds.dataset} (the source could not be read: ${messageOf(error)}; set DATABASE_URL or --source-url)`);
      continue;
    }
    if (!s) {
      renderer.event({ type: 'warning', message: `${ds.dataset}: tables are loaded by change data capture but the source has no replication slot for them: the next run loads them in full` });
      continue;
    }
    const bytes = (v: string | null) => (v === null ? '?' : formatBytes(Number(v)));
    renderer.info(
      `cdc slot ${s.slot}: confirmed ${s.confirmedLsn ?? '?'}, lag ${bytes(s.lagBytes)}, oldest unconfirmed transaction ${s.oldestUnconfirmed ?? 'none'}, ` +
        `WAL retained ${bytes(s.retainedBytes)} (warning above ${formatBytes(s.warningBytes)})${s.active ? ', in use' : ''}`,
    );
    if (s.warning) renderer.event({ type: 'warning', message: s.warning });
  }
}
