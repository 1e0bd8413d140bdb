import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';

/** Static checks of the container and deployment files: they cannot be built or applied on this machine. */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEPLOY = path.join(ROOT, 'deploy');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
type Json = any;
const readJson = (file: string): Json => JSON.parse(read(file)) as Json;

const DEFAULT_COMMAND = ['node', '/app/dist/cli/main.js', '--env', 'prod', '--validar-calidad-datos'];
/** The dataset prod loads by default: <dataset_prefix>_prod, prefix from the catalog. */
const PROD_DATASET = `${(parseYaml(read('schemas/datavision.yaml')) as { dataset_prefix: string }).dataset_prefix}_prod`;

describe('deploy/*.json', () => {
  const files = readdirSync(DEPLOY).filter((f) => f.endsWith('.json'));

  it('are all valid JSON', () => {
    expect(files).toEqual(expect.arrayContaining(['task-definition.json', 'iam-policy.json', 'eventbridge-rule.json', 'eventbridge-target.json']));
    for (const file of files) expect(() => JSON.parse(readFileSync(path.join(DEPLOY, file), 'utf8')), file).not.toThrow();
  });
});

describe('deploy/task-definition.json', () => {
  const td = readJson('deploy/task-definition.json');
  const container = td.containerDefinitions?.[0];

  it('is a Fargate task definition of the family ingesta', () => {
    expect(td.family).toBe('ingesta');
    expect(td.requiresCompatibilities).toEqual(['FARGATE']);
    expect(td.networkMode).toBe('awsvpc');
    expect(td.cpu).toBe('1024');
    expect(td.memory).toBe('2048');
    expect(td.taskRoleArn).toMatch(/^arn:aws:iam::<account>:role\//);
    expect(td.executionRoleArn).toMatch(/^arn:aws:iam::<account>:role\//);
    expect(td.taskRoleArn).not.toBe(td.executionRoleArn);
  });

  it('runs the ECR image with the default command', () => {
    expect(td.containerDefinitions).toHaveLength(1);
    expect(container.name).toBe('ingesta');
    expect(container.essential).toBe(true);
    expect(container.image).toBe('<account>.dkr.ecr.<region>.amazonaws.com/ingesta:<tag>');
    expect(container.command).toEqual(DEFAULT_COMMAND);
    expect(container.stopTimeout).toBeGreaterThanOrEqual(30);
    expect(container.stopTimeout).toBeLessThanOrEqual(120); // Fargate's maximum
    expect(container.linuxParameters?.initProcessEnabled).toBe(true);
    expect(String(container.user)).not.toMatch(/^(0|root)(:|$)/);
  });

  it('sets the required dev/prod and source variables, and JSON logs', () => {
    const env = new Map<string, string>(container.environment.map((e: { name: string; value: string }) => [e.name, e.value]));
    for (const name of ['BUCKET_URL', 'QUERY_RESULT_BUCKET', 'ATHENA_WORK_GROUP', 'AWS_DATA_CATALOG', 'REGION_NAME', 'DATABASE_HOST', 'DATABASE_PORT', 'DATABASE_NAME', 'DATABASE_USERNAME']) {
      expect(env.has(name), name).toBe(true);
    }
    expect(env.get('INGESTA_LOG_FORMAT')).toBe('json');
    expect(env.get('BUCKET_URL')).toMatch(/^s3:\/\//);
    expect(env.get('QUERY_RESULT_BUCKET')).toMatch(/^s3:\/\/.*\/$/);
  });

  it('takes the password from Secrets Manager, never as plain text', () => {
    const secrets = container.secrets as { name: string; valueFrom: string }[];
    const password = secrets.find((s) => s.name === 'DATABASE_PASSWORD');
    expect(password?.valueFrom).toMatch(/^arn:aws:secretsmanager:<region>:<account>:secret:/);
    for (const e of container.environment as { name: string; value: string }[]) {
      expect(e.name).not.toMatch(/PASSWORD|SECRET|TOKEN|^DATABASE_URL$|^AWS_ACCESS_KEY_ID$/i);
      expect(e.value).not.toMatch(/:\/\/[^/:@\s]*:[^@\s]+@/); // no user:password@ in a URL
    }
  });

  it('logs to CloudWatch', () => {
    expect(container.logConfiguration.logDriver).toBe('awslogs');
    expect(container.logConfiguration.options['awslogs-group']).toBe('/ecs/ingesta');
    expect(container.logConfiguration.options['awslogs-region']).toBe('<region>');
    expect(container.logConfiguration.options['awslogs-stream-prefix']).toBeTruthy();
  });
});

describe('deploy/iam-policy.json (task role)', () => {
  const policy = readJson('deploy/iam-policy.json');
  const statements = policy.Statement as { Sid: string; Effect: string; Action: string | string[]; Resource: string | string[]; Condition?: Json }[];
  const list = (v: string | string[]) => (Array.isArray(v) ? v : [v]);
  const actions = statements.flatMap((s) => list(s.Action));

  it('is a 2012-10-17 policy of Allow statements with named actions and resources only', () => {
    expect(policy.Version).toBe('2012-10-17');
    expect(statements.length).toBeGreaterThan(0);
    for (const s of statements) {
      expect(s.Effect).toBe('Allow');
      expect(s.Sid).toMatch(/^[A-Za-z0-9]+$/);
      for (const a of list(s.Action)) expect(a, s.Sid).toMatch(/^(s3|athena|glue):[A-Za-z]+$/); // no "*", no "s3:*"
      for (const r of list(s.Resource)) {
        expect(r, s.Sid).not.toBe('*');
        expect(r, s.Sid).toMatch(/^arn:aws:(s3|athena|glue):/);
      }
    }
    expect(JSON.stringify(policy)).not.toMatch(/"NotAction"|"NotResource"/);
  });

  it('S3: objects only under the dataset and the query-result prefixes; listing only with a prefix condition', () => {
    for (const s of statements.filter((st) => list(st.Action).some((a) => a.startsWith('s3:') && a.endsWith('Object')))) {
      for (const r of list(s.Resource)) expect(r).toMatch(new RegExp(`^arn:aws:s3:::<data-bucket>/<data-prefix>/${PROD_DATASET}/\\*$|^arn:aws:s3:::<results-bucket>/<results-prefix>/\\*$`));
    }
    const listing = statements.filter((s) => list(s.Action).includes('s3:ListBucket'));
    expect(listing.length).toBe(2);
    for (const s of listing) {
      expect(list(s.Action)).toEqual(['s3:ListBucket']);
      expect(s.Condition?.StringLike?.['s3:prefix']).toBeDefined();
    }
    expect(actions).toEqual(expect.arrayContaining(['s3:GetObject', 's3:PutObject', 's3:DeleteObject', 's3:ListBucket']));
  });

  it('Athena: the four query actions on the work group', () => {
    const athena = statements.filter((s) => list(s.Action).some((a) => a.startsWith('athena:')));
    expect(athena).toHaveLength(1);
    expect([...list(athena[0]!.Action)].sort()).toEqual(['athena:GetQueryExecution', 'athena:GetQueryResults', 'athena:StartQueryExecution', 'athena:StopQueryExecution']);
    expect(list(athena[0]!.Resource)).toEqual(['arn:aws:athena:<region>:<account>:workgroup/<work-group>']);
  });

  it('Glue: GetDatabase on the default database, which Athena requires (regression: the policy lacked it)', () => {
    const onDefault = statements.filter((s) => list(s.Resource).includes('arn:aws:glue:<region>:<account>:database/default'));
    expect(onDefault).toHaveLength(1);
    expect(list(onDefault[0]!.Action)).toEqual(['glue:GetDatabase']);
    expect([...list(onDefault[0]!.Resource)].sort()).toEqual(['arn:aws:glue:<region>:<account>:catalog', 'arn:aws:glue:<region>:<account>:database/default']);
  });

  it('Glue: the catalog, the prod dataset database and its tables only', () => {
    const glue = statements.filter((s) => list(s.Action).some((a) => a.startsWith('glue:')) && !list(s.Resource).some((r) => r.endsWith(':database/default')));
    expect(glue).toHaveLength(1);
    expect(list(glue[0]!.Action)).toEqual(expect.arrayContaining(['glue:GetDatabase', 'glue:CreateDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:CreateTable', 'glue:UpdateTable', 'glue:DeleteTable']));
    expect([...list(glue[0]!.Resource)].sort()).toEqual(
      [
        'arn:aws:glue:<region>:<account>:catalog',
        `arn:aws:glue:<region>:<account>:database/${PROD_DATASET}`,
        `arn:aws:glue:<region>:<account>:table/${PROD_DATASET}/*`,
      ].sort(),
    );
  });
});

describe('deploy/eventbridge-*.json', () => {
  const rule = readJson('deploy/eventbridge-rule.json');
  const target = readJson('deploy/eventbridge-target.json');
  const td = readJson('deploy/task-definition.json');

  it('the rule is a daily schedule', () => {
    expect(rule.ScheduleExpression).toBe('cron(0 5 * * ? *)');
    expect(rule.State).toBe('ENABLED');
    expect(rule.Name).toBeTruthy();
  });

  it('the target runs one Fargate task of the task definition with --env prod --validar-calidad-datos', () => {
    expect(target.Rule).toBe(rule.Name);
    expect(target.Targets).toHaveLength(1);
    const t = target.Targets[0];
    expect(t.Arn).toMatch(/^arn:aws:ecs:<region>:<account>:cluster\//);
    expect(t.RoleArn).toMatch(/^arn:aws:iam::<account>:role\//);
    expect(t.EcsParameters.LaunchType).toBe('FARGATE');
    expect(t.EcsParameters.TaskCount).toBe(1);
    expect(t.EcsParameters.TaskDefinitionArn).toMatch(new RegExp(`:task-definition/${td.family}(:\\d+)?$`));
    expect(t.EcsParameters.NetworkConfiguration.awsvpcConfiguration.AssignPublicIp).toBe('DISABLED');
    const overrides = JSON.parse(t.Input as string) as { containerOverrides: { name: string; command: string[] }[] };
    expect(overrides.containerOverrides[0]!.name).toBe(td.containerDefinitions[0].name);
    expect(overrides.containerOverrides[0]!.command).toEqual(DEFAULT_COMMAND);
  });
});

describe('deploy/README.md', () => {
  const readme = read('deploy/README.md');

  it('documents every exit code, the parallel-run limit and the signal handling', () => {
    for (const code of ['0', '2', '3', '4', '5', '6', '130']) expect(readme).toMatch(new RegExp(`^\\| ${code} \\|`, 'm'));
    expect(readme).toMatch(/lock/);
    expect(readme).toMatch(/exit 5/);
    expect(readme).toMatch(/SIGTERM/);
    expect(readme).toMatch(/digest/);
  });
});

/** The Dockerfile's instructions: continuation lines joined, comments dropped, parser directives kept apart. */
function dockerInstructions(text: string): { op: string; args: string }[] {
  const joined = text.replace(/\\\r?\n/g, ' ');
  return joined
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

describe('Dockerfile (static: no Docker engine here)', () => {
  const text = read('Dockerfile');
  const ins = dockerInstructions(text);
  const args = new Map(ins.filter((i) => i.op === 'ARG' && i.args.includes('=')).map((i) => i.args.split('=', 2) as [string, string]));
  const resolve = (s: string) => s.replace(/\$\{?(\w+)\}?/g, (_, name: string) => args.get(name) ?? `$${name}`);
  const froms = ins.map((ins, index) => ({ ...ins, index })).filter((i) => i.op === 'FROM');
  const runtimeStart = froms[froms.length - 1]!.index;
  const runtime = ins.slice(runtimeStart);

  it('has two stages, both on an exactly pinned Debian slim Node image (never latest, never Alpine)', () => {
    expect(froms).toHaveLength(2);
    for (const f of froms) {
      const image = resolve(f.args.split(/\s+/)[0]!);
      expect(image).toMatch(/^node:\d+\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
      expect(image).not.toMatch(/latest|alpine|musl/);
    }
    expect(froms[0]!.args).toMatch(/\bAS build$/i);
    expect(text).toMatch(/glibc/);
    expect(text).toMatch(/Alpine/);
  });

  it('builds with npm ci + npm run build, installs production dependencies only in the runtime stage', () => {
    const build = ins.slice(froms[0]!.index, runtimeStart);
    expect(build.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args))).toBe(true);
    expect(build.some((i) => i.op === 'RUN' && /\bnpm run build\b/.test(i.args))).toBe(true);
    const runs = runtime.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(runs.some((r) => /npm ci\b.*--omit=dev/.test(r) && /--ignore-scripts/.test(r))).toBe(true);
    expect(runs.join(' ')).not.toMatch(/npm (run build|install)\b/);
  });

  it('copies only dist/, schemas/, package.json, package-lock.json and entry_point.sh into the runtime image', () => {
    const copies = runtime.filter((i) => i.op === 'COPY' || i.op === 'ADD');
    expect(copies.every((c) => c.op === 'COPY')).toBe(true);
    const sources = copies.flatMap((c) => {
      const words = c.args.split(/\s+/).filter((w) => !w.startsWith('--chmod') && !w.startsWith('--chown'));
      const from = words[0]!.startsWith('--from=') ? words.shift()!.slice('--from='.length) : undefined;
      return words.slice(0, -1).map((w) => ({ from, source: w.replace(/^\.\//, '').replace(/\/$/, '') }));
    });
    expect(sources.map((s) => s.source).sort()).toEqual(['/build/dist', 'entry_point.sh', 'package-lock.json', 'package.json', 'schemas'].sort());
    expect(sources.find((s) => s.source === '/build/dist')?.from).toBe('build');
    for (const c of ins.filter((i) => i.op === 'COPY' || i.op === 'ADD')) expect(c.args).not.toMatch(/\b(test|bench|examples|node_modules|\.git)\b|^\.\s/);
  });

  it('runs as a non-root user, in /app, with NODE_ENV=production, through the entry point and the default command', () => {
    const user = runtime.filter((i) => i.op === 'USER');
    expect(user).toHaveLength(1);
    expect(user[0]!.args).not.toMatch(/^(root|0)(:|$)/);
    const entry = runtime.findIndex((i) => i.op === 'ENTRYPOINT');
    expect(runtime.findIndex((i) => i.op === 'USER')).toBeLessThan(entry);
    expect(JSON.parse(runtime[entry]!.args)).toEqual(['/app/entry_point.sh']);
    const cmd = runtime.filter((i) => i.op === 'CMD');
    expect(cmd).toHaveLength(1);
    expect(JSON.parse(cmd[0]!.args)).toEqual(DEFAULT_COMMAND);
    expect(runtime.some((i) => i.op === 'WORKDIR' && i.args === '/app')).toBe(true);
    expect(runtime.some((i) => i.op === 'ENV' && /^NODE_ENV=production$/.test(i.args))).toBe(true);
    expect(text).toMatch(/expected size|Expected size/i);
  });

  it('.dockerignore keeps dependencies, build output, data, tests, benches and secrets out of the context', () => {
    const ignored = read('.dockerignore').split(/\r?\n/).map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
    for (const entry of ['node_modules', 'dist', 'data', '.git', 'test', 'bench', 'coverage', '*.duckdb', '.ingesta', 'schemas/export', '.env']) {
      expect(ignored, entry).toContain(entry);
    }
    // what the build needs must not be ignored
    for (const needed of ['src', 'schemas', 'package.json', 'package-lock.json', 'tsconfig.json', 'entry_point.sh']) {
      expect(ignored, needed).not.toContain(needed);
    }
    expect(ignored.some((l) => l.startsWith('!'))).toBe(false);
  });
});
