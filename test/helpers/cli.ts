import { spawn } from 'node:child_process';
import { appendFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** A working folder for CLI runs, so relative defaults (data/, schemas/export/) never land in the checkout. */
const DEFAULT_CWD = mkdtempSync(path.join(tmpdir(), 'ingesta-cwd-'));

/** Runs the built CLI as a user would, with a clean environment plus `env`, in a scratch folder unless `cwd`. */
export function runCli(args: string[], env: Record<string, string | undefined> = {}, cwd: string = DEFAULT_CWD): Promise<CliResult> {
  return spawnCli(process.execPath, [CLI, ...args], env, cwd);
}

/** runCli under GNU time: also the peak RSS of the ingesta process, in kB (NaN if time did not report it). */
export async function runCliMeasured(args: string[], env: Record<string, string | undefined> = {}, cwd: string = DEFAULT_CWD): Promise<CliResult & { maxRssKb: number }> {
  const r = await spawnCli('/usr/bin/time', ['-f', 'INGESTA_TEST_MAXRSS=%M', process.execPath, CLI, ...args], env, cwd);
  const m = /INGESTA_TEST_MAXRSS=(\d+)\s*$/.exec(r.stderr);
  const stderr = r.stderr.replace(/(Command exited with non-zero status \d+\n)?INGESTA_TEST_MAXRSS=\d+\s*$/, '');
  return { ...r, stderr, maxRssKb: m ? Number(m[1]) : NaN };
}

function spawnCli(command: string, args: string[], env: Record<string, string | undefined>, cwd: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, {
      cwd,
      // text output by default in tests (off a terminal ingesta writes JSON lines); a test may ask for json
      env: { PATH: process.env.PATH, HOME: process.env.HOME, INGESTA_LOG_FORMAT: 'text', ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      captureOutput(code, stdout, stderr);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/**
 * For the suite-wide secret scan (test/global-setup.ts): appends what the CLI printed to this process's capture
 * file when INGESTA_TEST_CAPTURE_DIR is set. Never the arguments or environment (they hold the secrets on purpose).
 */
function captureOutput(code: number | null, stdout: string, stderr: string): void {
  const dir = process.env.INGESTA_TEST_CAPTURE_DIR;
  if (!dir) return;
  const state = expect.getState();
  const header = `=== runCli ${path.relative(process.cwd(), state.testPath ?? '')} > ${state.currentTestName ?? '(outside a test)'}: exit ${String(code)}`;
  try {
    appendFileSync(path.join(dir, `${process.pid}.log`), `${header}\n--- stdout\n${stdout}\n--- stderr\n${stderr}\n`);
  } catch {
    /* the scan is a safety net; a failed append must not fail the test */
  }
}
