#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { DEFAULT_DUCKDB_PATH, DEFAULT_LAG, type RunOptions } from '../config/config.js';
import { asTypedError, ConfigError, EXIT_CODES, IngestError, messageOf, QualityError } from '../errors.js';
import { planRun, runPlan } from '../pipeline/run.js';
import { validateOnly } from '../pipeline/quality-stage.js';
import { dryRun } from '../pipeline/dry-run.js';
import { datasetStatus, resetTables } from '../pipeline/operations.js';
import type { PipelineEvent } from '../pipeline/events.js';
import { gateFailed } from '../quality/check-types.js';
import { resolveConfig } from '../config/config.js';
import { resolveDatasetSettings } from '../config/dataset-settings.js';
import { debugEnabled, resolveLogFormat, resolveProgress, resolveReportFiles } from '../config/cli-settings.js';
import { splitTableList } from '../catalog/table-ref.js';
import { createRenderer, type LogFormat, type Renderer } from './output.js';
import { checkNames } from './gate-output.js';
import { writeReportFiles } from './report-output.js';
import { nodeSupportWarning } from './node-support.js';
import { HELP_FOOTER } from './help-text.js';
import { addCdcCommand, readCdcStatus } from './cdc-command.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** `--tables a b` and `--tables a,b` both work. */
const splitNames = (values: string[] | boolean | undefined) => (Array.isArray(values) ? splitTableList(values) : values);

/** text on a terminal, JSON lines elsewhere (CloudWatch, files, pipes), unless --log-format / INGESTA_LOG_FORMAT says. */
function logFormat(value: string | undefined): LogFormat {
  const format = resolveLogFormat(value);
  return format === 'auto' ? (process.stdout.isTTY ? 'text' : 'json') : format;
}

type Verbosity = 'quiet' | 'normal' | 'verbose';
const verbosity = (opts: Record<string, unknown>): Verbosity => (opts.quiet ? 'quiet' : opts.verbose ? 'verbose' : 'normal');

/** The options status and reset share with a run: where the dataset is. */
function withDatasetOptions(command: Command): Command {
  return command
    .addOption(new Option('--env <env>', 'local, dev or prod [env INGESTA_ENV]').choices(['local', 'dev', 'prod']))
    .option('--duckdb-path <file>', `DuckDB file for --env local [env DUCKDB_PATH, default ${DEFAULT_DUCKDB_PATH}]`)
    .option('--dataset <name>', 'dataset [env INGESTA_DATASET; status: default every dataset there; reset: the catalog\'s (raw_datavision_<env>) if there, else the only one]')
    .option('--catalog <file>', 'table catalog, for freshness and table names [env INGESTA_CATALOG]')
    .option('--log-format <format>', 'auto (text on a terminal, JSON lines otherwise), text or json [env INGESTA_LOG_FORMAT]');
}

/**
 * SIGTERM (Fargate stop) and SIGINT (Ctrl-C) cancel the run cleanly: in-flight queries are cancelled, nothing
 * uncommitted becomes visible, the last line says so, exit 130. A second signal exits at once.
 */
function stopSignal(): AbortSignal {
  const controller = new AbortController();
  const onSignal = (name: NodeJS.Signals) => {
    if (controller.signal.aborted) process.exit(EXIT_CODES.interrupted);
    process.stderr.write(`ingesta: ${name} received: stopping (in-flight queries are being cancelled)…\n`);
    controller.abort();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  return controller.signal;
}

/** The run's renderer, for the one line of the guard at the bottom of this file (a run that never settled). */
let guardRenderer: Renderer | undefined;

/** The one place that decides the exit code: typed errors carry theirs, anything else is 1. */
function fail(renderer: Renderer, caught: unknown): number {
  const error = asTypedError(caught);
  if (error instanceof IngestError) {
    renderer.error(error.kind, error.message, error.exitCode);
    return error.exitCode;
  }
  renderer.error('internal', `unexpected error: ${messageOf(error)}`, 1);
  if (debugEnabled()) console.error(error);
  return 1;
}

function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('ingesta')
    .description('Load PostgreSQL tables into the lakehouse raw layer (DuckDB locally; S3 + Athena in dev/prod).')
    .version(VERSION, '-V, --version')
    .addOption(new Option('--env <env>', 'environment: local (DuckDB), dev or prod (S3 + Athena) [env INGESTA_ENV]').choices(['local', 'dev', 'prod']))
    .option('--tables <tables...>', 'tables to load (space- or comma-separated); default: every catalog table')
    .option('--full-refresh [tables...]', 'reload from scratch and reset the cursor: the tables named here, else every table loaded')
    .option(
      '--reconcile [tables...]',
      'incremental tables (named here, else all): also compare every key with the destination, to catch rows committed later than the lag and hard deletes [env INGESTA_RECONCILE]',
    )
    .option('--no-reconcile', 'never reconcile keys, not even when the row counts of an incremental table disagree')
    .option('--validar-calidad-datos, --validate', 'run the quality gate after the load; exit 6 if a check fails')
    .option('--solo-validar, --validate-only', 'run only the quality gate, read-only on source and destination; exit 6 if a check fails')
    .option('--cdc', 'every table of the run by change data capture (logical replication; needs wal_level=logical and REPLICATION) [env INGESTA_CDC]')
    .option('--dry-run', 'print the plan (tables, modes, cursor windows, SELECTs, destination steps) and write nothing')
    .option('--report-json <file>', 'write the quality report as JSON [env INGESTA_REPORT_JSON]')
    .option('--report-html <file>', 'write the quality report as a self-contained HTML page [env INGESTA_REPORT_HTML]')
    .option('--duckdb-path <file>', `DuckDB file for --env local [env DUCKDB_PATH, default ${DEFAULT_DUCKDB_PATH}]`)
    .option('--dataset <name>', 'destination dataset (DuckDB schema) [env INGESTA_DATASET, default raw_datavision_<env>]')
    .option('--catalog <file>', 'table catalog (YAML) [env INGESTA_CATALOG, default schemas/datavision.yaml]')
    .option('--source-url <url>', 'PostgreSQL URL, postgres://user@host:port/db [env DATABASE_URL]; else DATABASE_* then PG* variables')
    .option('--package-dir <dir>', 'where load packages are written [env INGESTA_PACKAGE_DIR, default <duckdb dir>/.ingesta/packages]')
    .option('--lag <duration>', `incremental re-read window before the last cursor [env INGESTA_LAG, default "${DEFAULT_LAG}"]`)
    .option('--statement-timeout <duration>', 'per-statement limit on the source [env INGESTA_STATEMENT_TIMEOUT, default 0 = none]')
    .option('--max-connections <n>', 'source connections reading tables in parallel in one snapshot [env INGESTA_MAX_CONNECTIONS, default 2]')
    .option('--lock-timeout <duration>', 'how long to wait for a lock on the source [env INGESTA_LOCK_TIMEOUT, default 10s]')
    .option('--schema-export <dir>', 'folder for <dataset>.schema.yaml after each load [env INGESTA_SCHEMA_EXPORT, default schemas/export]')
    .option('--no-schema-export', 'do not write the schema export')
    .option('--log-format <format>', 'auto (text on a terminal, JSON lines otherwise), text or json [env INGESTA_LOG_FORMAT, default auto]')
    .option('--progress <mode>', 'text output: auto (live lines when stderr is a terminal, else a plain line every 10 s), live, plain or off [env INGESTA_PROGRESS]')
    .option('-q, --quiet', 'text output: only warnings, errors and the final result')
    .option('-v, --verbose', 'text output: also each table as it is loaded, and the read filters')
    .enablePositionalOptions()
    .helpCommand('help [command]', 'help for a command (ingesta help status)')
    .addHelpText('after', HELP_FOOTER)
    .showHelpAfterError('(run ingesta --help for usage)')
    .exitOverride()
    .action(async (opts: Record<string, unknown>) => {
      let renderer = createRenderer('text');
      try {
        renderer = createRenderer(logFormat(opts.logFormat as string | undefined), verbosity(opts), process.stdout, process.stderr, resolveProgress(opts.progress as string | undefined));
        guardRenderer = renderer;
        const options: RunOptions = {
          env: opts.env as RunOptions['env'],
          tables: splitNames(opts.tables as string[] | undefined) as string[] | undefined,
          fullRefresh: splitNames(opts.fullRefresh as string[] | boolean | undefined),
          reconcile: splitNames(opts.reconcile as string[] | boolean | undefined),
          catalog: opts.catalog as string | undefined,
          dataset: opts.dataset as string | undefined,
          duckdbPath: opts.duckdbPath as string | undefined,
          packageDir: opts.packageDir as string | undefined,
          sourceUrl: opts.sourceUrl as string | undefined,
          lag: opts.lag as string | undefined,
          statementTimeout: opts.statementTimeout as string | undefined,
          lockTimeout: opts.lockTimeout as string | undefined,
          maxConnections: opts.maxConnections as string | undefined,
          validate: Boolean(opts.validate),
          validateOnly: Boolean(opts.validateOnly),
          dryRun: Boolean(opts.dryRun),
          ...(opts.cdc ? { cdc: true } : {}),
          // commander: undefined unless given; false with --no-schema-export
          ...(opts.schemaExport !== undefined && opts.schemaExport !== true ? { schemaExport: opts.schemaExport as string | false } : {}),
        };
        const reports = resolveReportFiles({ json: opts.reportJson as string | undefined, html: opts.reportHtml as string | undefined });
        const plan = planRun(resolveConfig(options));
        if ((reports.json || reports.html) && plan.config.quality === 'off') {
          throw new ConfigError('--report-json / --report-html need the quality gate: add --validar-calidad-datos or --solo-validar.');
        }
        const onEvent = (e: PipelineEvent) => renderer.event(e);
        const nodeWarning = nodeSupportWarning(plan.config.env !== 'local');
        if (nodeWarning) onEvent({ type: 'warning', message: nodeWarning });
        if (plan.config.dryRun) {
          await dryRun(plan, onEvent);
          setExit(0);
          return;
        }
        const report = plan.config.quality === 'only' ? await validateOnly(plan, onEvent) : (await runPlan(plan, onEvent, stopSignal())).quality;
        if (report) {
          await writeReportFiles(reports, report, plan, onEvent);
          if (gateFailed(report.checks)) {
            const failed = checkNames(report.checks, 'fail');
            const files = [reports.html, reports.json].filter((f): f is string => Boolean(f));
            throw new QualityError(
              `The quality gate failed: ${failed.length} check${failed.length === 1 ? '' : 's'} failed: ${failed.join('; ')}. ` +
                (files.length > 0 ? `Report: ${files.join(', ')}.` : 'Details above; --report-html FILE writes a report.'),
            );
          }
        }
        setExit(0);
      } catch (error) {
        setExit(fail(renderer, error));
      }
    });

  withDatasetOptions(
    program
      .command('status')
      .description('per dataset (--dataset, else all) and table: last load, rows now, cursor, freshness, last quality gate; the last runs and their outcome (read-only; reads the source only for a CDC slot\'s lag, when a source setting is given)')
      .option('--runs <n>', 'how many recent runs to show', '10')
      .option('--source-url <url>', 'PostgreSQL URL, read only for the lag of a CDC slot [env DATABASE_URL]'),
  ).action(async (opts: Record<string, string | undefined>) => {
    let renderer = createRenderer('text');
    try {
      renderer = createRenderer(logFormat(opts.logFormat));
      const config = resolveDatasetSettings({ env: opts.env, duckdbPath: opts.duckdbPath, dataset: opts.dataset, catalog: opts.catalog });
      const nodeWarning = nodeSupportWarning(config.env !== 'local');
      if (nodeWarning) renderer.event({ type: 'warning', message: nodeWarning });
      const report = await datasetStatus(config, Number(opts.runs ?? 10) || 10);
      const cdc = await readCdcStatus({ duckdbPath: opts.duckdbPath, catalog: opts.catalog, sourceUrl: opts.sourceUrl }, config, report);
      renderer.status({ ...report, skipped: [...report.skipped, ...cdc.skipped] });
      cdc.show(renderer);
      setExit(0);
    } catch (error) {
      setExit(fail(renderer, error));
    }
  });

  withDatasetOptions(
    program
      .command('reset')
      .description('forget the incremental state (cursor) of tables, so their next run reloads them in full; data is kept')
      .requiredOption('--tables <tables...>', 'tables whose cursor to forget'),
  ).action(async (opts: Record<string, unknown>) => {
    let renderer = createRenderer('text');
    try {
      renderer = createRenderer(logFormat(opts.logFormat as string | undefined));
      const config = resolveDatasetSettings({
        env: opts.env as string | undefined, duckdbPath: opts.duckdbPath as string | undefined, dataset: opts.dataset as string | undefined, catalog: opts.catalog as string | undefined,
      });
      const nodeWarning = nodeSupportWarning(config.env !== 'local');
      if (nodeWarning) renderer.event({ type: 'warning', message: nodeWarning });
      const result = await resetTables(config, splitTableList(opts.tables as string[]));
      renderer.info(
        result.reset.length > 0
          ? `forgot the incremental state of ${result.reset.join(', ')} in ${result.dataset}: their next run is a full load`
          : `no incremental state to forget in ${result.dataset}`,
      );
      if (result.unchanged.length > 0) renderer.info(`no incremental state for ${result.unchanged.join(', ')} (full tables, or never loaded)`);
      setExit(0);
    } catch (error) {
      setExit(fail(renderer, error));
    }
  });

  program
    .command('demo')
    .description('start an embedded PostgreSQL (PGlite), fill it with generated DataVision data, and load it into DuckDB')
    .option('--size <n>', 'number of accounts to generate (other tables scale with it)', '200')
    .option('--duckdb-path <file>', 'DuckDB file to load into', 'data/demo.duckdb')
    .option('--log-format <format>', 'text or json')
    .action(async (opts: { size: string; duckdbPath: string; logFormat?: string }) => {
      let renderer = createRenderer('text');
      try {
        renderer = createRenderer(logFormat(opts.logFormat));
        const size = Number(opts.size);
        if (!Number.isInteger(size) || size < 1) throw new ConfigError(`--size must be a positive whole number, not "${opts.size}".`);
        // the embedded PostgreSQL (WASM) is loaded only for the demo
        const { runDemo } = await import('./demo-command.js');
        await runDemo({ size, duckdbPath: opts.duckdbPath, renderer });
        setExit(0);
      } catch (error) {
        setExit(fail(renderer, error));
      }
    });
  addCdcCommand(program, { withDatasetOptions, renderer: (f) => createRenderer(logFormat(f)), fail, setExit });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code = 0;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; a usage error is a configuration error
      return error.exitCode === 0 ? 0 : EXIT_CODES.config;
    }
    throw error;
  }
  return code;
}

// a closed pipe (ingesta … | head) is not an error of the run
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
}

let settled = false;
main(process.argv).then(
  (code) => {
    settled = true;
    process.exitCode = code;
  },
  (error: unknown) => {
    settled = true;
    process.stderr.write(`ingesta: error: ${messageOf(error)}\n`);
    process.exitCode = 1;
  },
);

// Node exits when nothing is left to wait for, even if the command's promise never settled (a step that waits on a
// paused stream forever): without this, such a run would end with status 0 and no message, as if it had succeeded
process.on('beforeExit', () => {
  if (settled) return;
  settled = true;
  const message =
    'the run stopped before finishing: an internal step waited on something that can never come (this is a bug in ingesta). ' +
    'Treat the run as failed; nothing uncommitted is visible in the destination. Run again, and report it with INGESTA_DEBUG=1.';
  if (guardRenderer) guardRenderer.error('internal', message, 1);
  else process.stderr.write(`ingesta: error: ${message}\n`);
  process.exitCode = 1;
});
