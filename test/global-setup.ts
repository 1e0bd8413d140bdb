import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ALL_TEST_SECRETS, leakedSecrets } from './helpers/secrets.js';
import { SCRATCH_DIR_ENV } from './helpers/scratch.js';

/** Where test/helpers/cli.ts's runCli appends every stdout/stderr it sees (one file per test process). */
export const CAPTURE_DIR_ENV = 'INGESTA_TEST_CAPTURE_DIR';

/**
 * Suite-wide secret scan: before the tests, a capture folder (inherited by the test processes through the
 * environment); after them, every captured output is searched for each secret of test/helpers/secrets.ts. A hit fails
 * the run (exit code 1) naming the capture file and the test that produced it. The folder is removed unless a leak
 * was found (to inspect it) or it was given from outside. Also the run's scratch folder (test/helpers/scratch.ts),
 * readable by the `postgres` OS user (the test clusters run as it), removed after the run.
 */
export default function setup(): () => void {
  const given = process.env[CAPTURE_DIR_ENV];
  const dir = given || mkdtempSync(path.join(tmpdir(), 'ingesta-capture-'));
  process.env[CAPTURE_DIR_ENV] = dir;
  const scratch = mkdtempSync(path.join(tmpdir(), 'ingesta-scratch-'));
  chmodSync(scratch, 0o755);
  process.env[SCRATCH_DIR_ENV] = scratch;
  return () => {
    rmSync(scratch, { recursive: true, force: true });
    const leaks: string[] = [];
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.log'));
    } catch {
      /* nothing captured */
    }
    for (const name of files) {
      const file = path.join(dir, name);
      const text = readFileSync(file);
      if (leakedSecrets(text, ALL_TEST_SECRETS).length === 0) continue;
      // name the test: the capture's last header line before the first hit
      const lines = text.toString('utf8').split('\n');
      for (const [i, line] of lines.entries()) {
        const hit = leakedSecrets(line);
        if (hit.length === 0) continue;
        const header = lines.slice(0, i + 1).reverse().find((l) => l.startsWith('=== runCli'));
        leaks.push(`${file}:${i + 1}: a test secret (${hit.map((s) => `${s.slice(0, 6)}…`).join(', ')}) in output of ${header ?? 'an unknown test'}`);
      }
    }
    if (!given && leaks.length === 0) rmSync(dir, { recursive: true, force: true });
    if (leaks.length > 0) {
      process.exitCode = 1;
      const message = `SECRET LEAK: ${leaks.length} captured CLI output line(s) contain a test secret:\n${leaks.slice(0, 20).join('\n')}`;
      process.stderr.write(`\n${'!'.repeat(80)}\n${message}\n${'!'.repeat(80)}\n`);
      throw new Error(message);
    }
  };
}
