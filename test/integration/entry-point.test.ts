import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/** The container's entry point, run from the checkout: it finds dist/cli/main.js next to itself, as in /app. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY = path.join(ROOT, 'entry_point.sh');

interface EntryResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly pid: number | undefined;
}

const scratch = () => mkdtempSync(path.join(tmpdir(), 'ingesta-entry-'));

/**
 * Runs entry_point.sh with a clean environment (PATH, HOME and `env` only), in a scratch folder, as ECS would.
 * `onStdout` sees the output as it comes (for the signal test).
 */
function runEntry(
  args: string[],
  env: Record<string, string | undefined> = {},
  options: { cwd?: string; onStdout?: (text: string, pid: number) => void } = {},
): Promise<EntryResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(ENTRY, args, {
      cwd: options.cwd ?? scratch(),
      env: { PATH: process.env.PATH, HOME: scratch(), ...env } as NodeJS.ProcessEnv,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      options.onStdout?.(stdout, child.pid!);
    });
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr, pid: child.pid }));
  });
}

const secret = () => `S3cr3t-${randomBytes(12).toString('hex')}`;

/** A complete prod environment (the source by DATABASE_* variables). */
function prodEnv(password: string): Record<string, string> {
  return {
    DATABASE_HOST: 'db.internal',
    DATABASE_PORT: '5432',
    DATABASE_NAME: 'datavision',
    DATABASE_USERNAME: 'ingesta',
    DATABASE_PASSWORD: password,
    BUCKET_URL: 's3://lake/raw',
    QUERY_RESULT_BUCKET: 's3://lake/athena-results/',
    REGION_NAME: 'eu-west-1',
    ATHENA_WORK_GROUP: 'primary',
  };
}

/** Prints "ran:" and its arguments, nothing else. */
const ECHO_ARGS = ['node', '-e', "process.stdout.write('ran:' + process.argv.slice(1).join(' '))"];
/** Prints "ran:<number of arguments>", never the arguments themselves. */
const COUNT_ARGS = ['bash', '-c', 'printf "ran:%s" "$#"', 'count'];

describe('entry_point.sh: runs the command, secrets masked', () => {
  for (const format of ['text', 'json']) {
    it(`runs the command with a complete prod environment and prints no secret (${format} lines)`, async () => {
      const password = secret();
      const awsSecret = secret();
      const token = secret();
      const r = await runEntry([...ECHO_ARGS, 'a', 'b'], {
        ...prodEnv(password),
        AWS_SECRET_ACCESS_KEY: awsSecret,
        AWS_SESSION_TOKEN: token,
        INGESTA_LOG_FORMAT: format,
      });
      expect(r.stderr).not.toMatch(/not set|unknown environment/);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('ran:a b');
      for (const s of [password, awsSecret, token]) {
        expect(r.stdout).not.toContain(s);
        expect(r.stderr).not.toContain(s);
      }
      // the command line and the variables are printed, the secrets as *** (never a length or a prefix)
      expect(r.stderr).toContain('process.stdout.write');
      expect(r.stderr).toContain('db.internal');
      expect(r.stderr).toContain('s3://lake/raw');
      for (const s of [password, awsSecret, token]) {
        expect(r.stderr).not.toContain(s.slice(0, 8));
        // a masked value is exactly *** (no length, no prefix); a bare length check would trip on timestamps
        expect(r.stderr).not.toMatch(new RegExp(`\\*\\*\\*\\s*[(\\[]?${s.length}\\b`));
      }
      if (format === 'json') {
        const events = r.stderr.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
        const start = events.find((e) => e.type === 'container_start') as { env: string; command: string[]; variables: Record<string, string> };
        expect(start.env).toBe('prod');
        expect(start.command.slice(0, 2)).toEqual(['node', '-e']);
        expect(start.variables.DATABASE_PASSWORD).toBe('***');
        expect(start.variables.AWS_SECRET_ACCESS_KEY).toBe('***');
        expect(start.variables.AWS_SESSION_TOKEN).toBe('***');
        expect(start.variables.DATABASE_HOST).toBe('db.internal');
      } else {
        expect(r.stderr).toContain('DATABASE_PASSWORD=***');
        expect(r.stderr).toContain('AWS_SECRET_ACCESS_KEY=***');
        expect(r.stderr).toContain('AWS_SESSION_TOKEN=***');
      }
    });
  }

  it('masks the password of DATABASE_URL and of a --source-url argument (both spellings)', async () => {
    const urlPassword = secret();
    const argPassword = secret();
    const eqPassword = secret();
    for (const format of ['text', 'json']) {
      const r = await runEntry(
        [...COUNT_ARGS, '--source-url', `postgres://u:${argPassword}@h/db`, `--source-url=postgresql://v:${eqPassword}@h:5433/db?sslmode=require`],
        {
          DATABASE_URL: `postgres://ingesta:${urlPassword}@db.internal:5432/datavision`,
          BUCKET_URL: 's3://lake/raw',
          QUERY_RESULT_BUCKET: 's3://lake/athena-results/',
          AWS_REGION: 'eu-west-1',
          INGESTA_LOG_FORMAT: format,
        },
      );
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('ran:3');
      const all = r.stdout + r.stderr;
      for (const s of [urlPassword, argPassword, eqPassword]) expect(all).not.toContain(s);
      expect(r.stderr).toContain('postgres://ingesta:***@db.internal:5432/datavision');
      expect(r.stderr).toContain('postgres://u:***@h/db');
      expect(r.stderr).toContain('postgresql://v:***@h:5433/db?sslmode=require');
    }
  });

  it('a --source-url argument is a source connection on its own', async () => {
    const r = await runEntry([...COUNT_ARGS, '--env', 'local', '--source-url', 'postgres://u@h/db'], {});
    expect(r.stderr).not.toContain('not set');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran:4');
  });

  it('masks a secret wherever it appears in the printed command line, and password= pairs', async () => {
    const password = secret();
    const other = secret();
    const r = await runEntry([...COUNT_ARGS, `--note=${password}`, `host=h password=${other} user=u`], { ...prodEnv(password), INGESTA_LOG_FORMAT: 'text' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran:2');
    expect(r.stderr).not.toContain(password);
    expect(r.stderr).not.toContain(other);
    expect(r.stderr).toContain('--note=***');
    expect(r.stderr).toContain('password=***');
  });

  it('masks a secret whole even when another secret is a part of it', async () => {
    const password = secret();
    const part = password.slice(0, 10); // PGPASSWORD is a prefix of DATABASE_PASSWORD
    const r = await runEntry([...COUNT_ARGS, password, part], { ...prodEnv(password), PGPASSWORD: part, INGESTA_LOG_FORMAT: 'text' });
    expect(r.code).toBe(0);
    expect(r.stderr).not.toContain(part);
    expect(r.stderr).not.toContain(password.slice(10));
  });

  it('writes no file (no secrets file, no .pgpass) in the working folder or the home folder', async () => {
    const cwd = scratch();
    const home = scratch();
    const r = await runEntry([...COUNT_ARGS], { ...prodEnv(secret()), HOME: home }, { cwd });
    expect(r.code).toBe(0);
    expect(readdirSync(cwd)).toEqual([]);
    expect(readdirSync(home)).toEqual([]);
  });

  it('warns, but runs, when no database password is set (IAM or trust authentication)', async () => {
    const env = prodEnv('');
    delete (env as Record<string, string | undefined>).DATABASE_PASSWORD;
    const r = await runEntry([...COUNT_ARGS], { ...env, INGESTA_LOG_FORMAT: 'text' });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('ran:0');
    expect(r.stderr).toMatch(/warning|no database password/i);
    expect(r.stderr).toContain('DATABASE_PASSWORD');
  });
});

describe('entry_point.sh: exec semantics', () => {
  it("passes the child's exit code through", async () => {
    const r = await runEntry(['bash', '-c', 'exit 7'], prodEnv(secret()));
    expect(r.code).toBe(7);
  });

  it('replaces itself with the command (same pid), so SIGTERM reaches it directly', async () => {
    let signalled = false;
    const r = await runEntry(
      ['node', '-e', "process.on('SIGTERM', () => { process.stdout.write(' term'); process.exit(130); }); process.stdout.write('pid:' + process.pid); setInterval(() => {}, 1000);"],
      prodEnv(secret()),
      {
        onStdout: (text, pid) => {
          if (!signalled && text.startsWith('pid:')) {
            signalled = true;
            process.kill(pid, 'SIGTERM');
          }
        },
      },
    );
    expect(r.stdout).toBe(`pid:${r.pid} term`);
    expect(r.code).toBe(130);
  });

  it('with no arguments runs the default command: ingesta --env prod --validar-calidad-datos', async () => {
    // a source that refuses the connection: ingesta itself runs, and exits 3 (source) before any AWS call
    const r = await runEntry([], { ...prodEnv(secret()), DATABASE_HOST: '127.0.0.1', DATABASE_PORT: '1', INGESTA_LOG_FORMAT: 'text' });
    expect(r.stderr).toContain(`${path.join(ROOT, 'dist/cli/main.js')} --env prod --validar-calidad-datos`);
    expect(r.stdout + r.stderr).toMatch(/Cannot connect to PostgreSQL/);
    expect(r.code).toBe(3);
  });

  it('arguments starting with "-" are ingesta flags', async () => {
    const r = await runEntry(['--version'], {});
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('entry_point.sh: missing variables', () => {
  const ALL_PROD = ['DATABASE_HOST', 'DATABASE_NAME', 'DATABASE_USERNAME', 'BUCKET_URL', 'QUERY_RESULT_BUCKET', 'REGION_NAME'];

  /** Runs a command that would print "ran", and checks it did not run: exit 2, every name listed, the others not. */
  async function expectMissing(args: string[], env: Record<string, string>, missing: string[], format = 'text') {
    const r = await runEntry([...COUNT_ARGS, ...args], { ...env, INGESTA_LOG_FORMAT: format });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    // the list of missing variables: "… which are not set: A (…); B (…). …"
    const listed = /not set: (.*?)\.(?: |"|$)/m.exec(r.stderr)?.[1] ?? '';
    for (const name of missing) expect(listed).toContain(name);
    for (const name of ALL_PROD.filter((n) => !missing.includes(n))) expect(listed).not.toContain(name);
    return r;
  }

  it('prod with nothing set: every missing variable in one error', async () => {
    const r = await expectMissing(['--env', 'prod'], {}, ALL_PROD);
    // one error, not one per variable
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the error is one JSON event when ingesta logs JSON', async () => {
    const r = await expectMissing(['--env=prod'], {}, ALL_PROD, 'json');
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    const event = JSON.parse(lines[0]!) as { type: string; exitCode: number; message: string };
    expect(event.type).toBe('error');
    expect(event.exitCode).toBe(2);
  });

  it('prod without the AWS settings', async () => {
    await expectMissing(['--env', 'prod'], { DATABASE_URL: 'postgres://u@h/db' }, ['BUCKET_URL', 'QUERY_RESULT_BUCKET', 'REGION_NAME']);
  });

  it('prod with a partial source and one AWS setting missing', async () => {
    await expectMissing(
      ['--env', 'prod'],
      { DATABASE_HOST: 'h', BUCKET_URL: 's3://b/p', REGION_NAME: 'eu-west-1' },
      ['DATABASE_NAME', 'DATABASE_USERNAME', 'QUERY_RESULT_BUCKET'],
    );
  });

  it('blank values count as missing', async () => {
    await expectMissing(['--env', 'prod'], { ...prodEnv('pw'), BUCKET_URL: '  ', DATABASE_NAME: '' }, ['BUCKET_URL', 'DATABASE_NAME']);
  });

  it('dev needs the same as prod; the env may come from INGESTA_ENV', async () => {
    await expectMissing([], { INGESTA_ENV: 'dev', PGHOST: 'h', PGUSER: 'u' }, ['DATABASE_NAME', 'BUCKET_URL', 'QUERY_RESULT_BUCKET', 'REGION_NAME']);
  });

  it('without --env or INGESTA_ENV the environment is prod, as the default command says', async () => {
    const r = await expectMissing([], { DATABASE_URL: 'postgres://u@h/db' }, ['BUCKET_URL', 'QUERY_RESULT_BUCKET', 'REGION_NAME']);
    expect(r.stderr).toContain('--env prod');
  });

  it('--env in the arguments wins over INGESTA_ENV', async () => {
    await expectMissing(['--env', 'prod'], { INGESTA_ENV: 'local', DATABASE_URL: 'postgres://u@h/db' }, ['BUCKET_URL', 'QUERY_RESULT_BUCKET', 'REGION_NAME']);
    const r = await runEntry([...COUNT_ARGS, '--env', 'local'], { INGESTA_ENV: 'prod', DATABASE_URL: 'postgres://u@h/db' });
    expect(r.code).toBe(0);
  });

  it('each source family, and AWS_REGION, satisfy the checks', async () => {
    const aws = { BUCKET_URL: 's3://b/p', QUERY_RESULT_BUCKET: 's3://r/', AWS_REGION: 'eu-west-1' };
    for (const source of [
      { DATABASE_URL: 'postgres://u:pw@h/db' },
      { DATABASE_HOST: 'h', DATABASE_NAME: 'd', DATABASE_USERNAME: 'u', DATABASE_PASSWORD: 'pw' },
      { PGHOST: 'h', PGDATABASE: 'd', PGUSER: 'u', PGPASSWORD: 'pw' },
    ]) {
      const r = await runEntry([...COUNT_ARGS, '--env', 'prod'], { ...aws, ...source });
      expect(r.stderr).not.toContain('not set');
      expect(r.code).toBe(0);
      expect(r.stdout).toBe('ran:2');
    }
  });

  it('local needs only the source connection', async () => {
    const ok = await runEntry([...COUNT_ARGS, '--env', 'local'], { DATABASE_HOST: 'h', DATABASE_NAME: 'd', DATABASE_USERNAME: 'u', DATABASE_PASSWORD: 'pw' });
    expect(ok.code).toBe(0);
    expect(ok.stdout).toBe('ran:2');
    const r = await expectMissing(['--env', 'local'], {}, ['DATABASE_HOST', 'DATABASE_NAME', 'DATABASE_USERNAME']);
    expect(r.stderr).not.toContain('BUCKET_URL');
    expect(r.stderr).toContain('DATABASE_URL');
  });

  it('an unknown environment is a configuration error', async () => {
    const r = await runEntry([...COUNT_ARGS, '--env', 'staging'], prodEnv('pw'));
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('staging');
  });
});

describe('shell scripts', () => {
  it('entry_point.sh and every script under scripts/ pass shellcheck with no warning', () => {
    const scripts = readdirSync(path.join(ROOT, 'scripts')).filter((f) => f.endsWith('.sh')).map((f) => `scripts/${f}`);
    const r = spawnSync('shellcheck', ['entry_point.sh', '.ci/run', ...scripts], { cwd: ROOT, encoding: 'utf8' });
    if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('shellcheck is not installed: npm test installs it (scripts/ensure-test-tools.sh, apt-get install shellcheck)');
    }
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
