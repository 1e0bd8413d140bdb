import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

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
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
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
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
