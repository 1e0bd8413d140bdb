import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_CATALOG_PATH } from '../../src/catalog/catalog.js';
import { DEFAULT_DUCKDB_PATH, DEFAULT_LAG, parseDuration, resolveConfig } from '../../src/config/config.js';
import { configError } from '../helpers/expect-error.js';


describe('resolveConfig: defaults', () => {
  const config = resolveConfig({}, {});

  it('env local, every table, no full refresh', () => {
    expect(config.env).toBe('local');
    expect(config.tables).toBeUndefined();
    expect(config.fullRefresh).toEqual({ kind: 'none' });
    expect(config.dataset).toBeUndefined();
  });

  it('duckdb at data/datavision.duckdb, packages next to it', () => {
    expect(DEFAULT_DUCKDB_PATH).toBe('data/datavision.duckdb');
    expect(config.duckdbPath).toBe('data/datavision.duckdb');
    expect(config.packageDir).toBe(path.join('data', '.ingesta', 'packages'));
  });

  it('lag 15 minutes = 900 s', () => {
    expect(DEFAULT_LAG).toBe('15 minutes');
    expect(config.lagSeconds).toBe(900);
  });

  it('default catalog, no statement timeout, 10 s lock timeout', () => {
    expect(config.catalogPath).toBe(DEFAULT_CATALOG_PATH);
    expect(config.statementTimeoutMs).toBe(0);
    expect(config.lockTimeoutMs).toBe(10_000);
  });

  it('the source is resolved from the same environment', () => {
    expect(config.source.host).toBe('localhost');
    expect(config.source.port).toBe(5432);
    const c = resolveConfig({}, { DATABASE_URL: 'postgres://u:pw@h:6000/d' });
    expect(c.source).toMatchObject({ host: 'h', port: 6000, database: 'd', user: 'u', password: 'pw' });
    expect(resolveConfig({ sourceUrl: 'postgres://flag/x' }, { DATABASE_URL: 'postgres://env/y' }).source.host).toBe('flag');
  });

  it('the returned object is frozen', () => {
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { env: string }).env = 'prod';
    }).toThrow(TypeError);
    expect(config.env).toBe('local');
  });

  it('the packageDir follows a custom duckdb path', () => {
    expect(resolveConfig({ duckdbPath: '/srv/lake/dv.duckdb' }, {}).packageDir).toBe('/srv/lake/.ingesta/packages');
    expect(resolveConfig({}, { DUCKDB_PATH: 'x.duckdb' }).packageDir).toBe(path.join('.', '.ingesta', 'packages'));
  });
});

describe('resolveConfig: environment variables, and flags beating them', () => {
  it('dev/prod settings come from BUCKET_URL, QUERY_RESULT_BUCKET, ATHENA_WORK_GROUP, AWS_DATA_CATALOG, REGION_NAME', () => {
    const c = resolveConfig({ env: 'prod' }, { BUCKET_URL: 's3://lake/raw/dv/', QUERY_RESULT_BUCKET: 's3://res', REGION_NAME: 'eu-west-1', AWS_ENDPOINT_URL_S3: 'http://127.0.0.1:9' });
    expect(c.athena).toEqual({
      bucket: 'lake', prefix: 'raw/dv', queryResultLocation: 's3://res/', workGroup: 'primary', dataCatalog: 'AwsDataCatalog', region: 'eu-west-1', s3PathStyle: true,
      s3Endpoint: 'http://127.0.0.1:9', athenaEndpoint: undefined, glueEndpoint: undefined, credentials: { kind: 'profile', profile: 'default' },
      lockTiming: { heartbeatMs: 30_000, staleMs: 300_000 }, keepSupersededMs: 3_600_000,
    });
    expect(resolveConfig({}, {}).athena).toBeUndefined();
  });

  it('--max-connections: default 2, from the flag or INGESTA_MAX_CONNECTIONS, 1 to 8', () => {
    expect(resolveConfig({}, {}).maxConnections).toBe(2);
    expect(resolveConfig({ maxConnections: '1' }, {}).maxConnections).toBe(1);
    expect(resolveConfig({}, { INGESTA_MAX_CONNECTIONS: '4' }).maxConnections).toBe(4);
    for (const bad of ['0', '9', 'two', '1.5']) configError(() => resolveConfig({ maxConnections: bad }, {}));
  });

  it('dev/prod without the AWS settings: one ConfigError listing each missing variable', () => {
    expect(() => resolveConfig({ env: 'dev' }, {})).toThrow(/BUCKET_URL.*QUERY_RESULT_BUCKET.*REGION_NAME/);
  });

  const env = {
    DUCKDB_PATH: '/env/db.duckdb',
    INGESTA_DATASET: 'env_dataset',
    INGESTA_LAG: '1 hour',
    INGESTA_PACKAGE_DIR: '/env/packages',
    INGESTA_ENV: 'dev',
    INGESTA_CATALOG: '/env/catalog.yaml',
    INGESTA_STATEMENT_TIMEOUT: '30s',
    INGESTA_LOCK_TIMEOUT: '2s',
    // dev/prod need the original container's AWS settings
    BUCKET_URL: 's3://lake/raw',
    QUERY_RESULT_BUCKET: 's3://lake/results/',
    REGION_NAME: 'eu-west-1',
  };

  it('environment variables are used', () => {
    const c = resolveConfig({}, env);
    expect(c).toMatchObject({
      env: 'dev',
      duckdbPath: '/env/db.duckdb',
      dataset: 'env_dataset',
      lagSeconds: 3600,
      packageDir: '/env/packages',
      catalogPath: '/env/catalog.yaml',
      statementTimeoutMs: 30_000,
      lockTimeoutMs: 2_000,
    });
  });

  it('flags beat environment variables', () => {
    const c = resolveConfig(
      {
        env: 'prod',
        duckdbPath: '/flag/db.duckdb',
        dataset: 'flag_dataset',
        lag: '5m',
        packageDir: '/flag/packages',
        catalog: '/flag/catalog.yaml',
        statementTimeout: '1 minute',
        lockTimeout: '0',
      },
      env,
    );
    expect(c).toMatchObject({
      env: 'prod',
      duckdbPath: '/flag/db.duckdb',
      dataset: 'flag_dataset',
      lagSeconds: 300,
      packageDir: '/flag/packages',
      catalogPath: '/flag/catalog.yaml',
      statementTimeoutMs: 60_000,
      lockTimeoutMs: 0,
    });
  });

  it('a --duckdb-path flag moves the default packageDir even when DUCKDB_PATH is set', () => {
    const c = resolveConfig({ duckdbPath: '/flag/db.duckdb' }, { DUCKDB_PATH: '/env/db.duckdb' });
    expect(c.packageDir).toBe('/flag/.ingesta/packages');
  });

  it('empty environment variables count as unset', () => {
    const c = resolveConfig({}, { DUCKDB_PATH: '', INGESTA_DATASET: '', INGESTA_LAG: '', INGESTA_PACKAGE_DIR: '' });
    expect(c.duckdbPath).toBe(DEFAULT_DUCKDB_PATH);
    expect(c.dataset).toBeUndefined();
    expect(c.lagSeconds).toBe(900);
    expect(c.packageDir).toBe(path.join('data', '.ingesta', 'packages'));
  });

  it('an unknown INGESTA_ENV or --env is a ConfigError', () => {
    expect(configError(() => resolveConfig({}, { INGESTA_ENV: 'staging' })).message).toContain('staging');
    configError(() => resolveConfig({ env: 'staging' as 'dev' }, {}));
  });

  it('unknown option keys are a ConfigError', () => {
    configError(() => resolveConfig({ nope: true } as never, {}));
  });

  it('source errors surface as ConfigError', () => {
    configError(() => resolveConfig({}, { PGPORT: 'abc' }));
  });
});

describe('resolveConfig: fullRefresh and tables', () => {
  it('false or absent: none', () => {
    expect(resolveConfig({ fullRefresh: false }, {}).fullRefresh).toEqual({ kind: 'none' });
    expect(resolveConfig({ tables: ['a'] }, {}).fullRefresh).toEqual({ kind: 'none' });
  });

  it('true: every table, tables still undefined', () => {
    const c = resolveConfig({ fullRefresh: true }, {});
    expect(c.fullRefresh).toEqual({ kind: 'all' });
    expect(c.tables).toBeUndefined();
  });

  it('true with tables: all of those tables are reloaded', () => {
    const c = resolveConfig({ fullRefresh: true, tables: ['a', 'b'] }, {});
    expect(c.fullRefresh).toEqual({ kind: 'all' });
    expect(c.tables).toEqual(['a', 'b']);
  });

  it('[] counts as every table', () => {
    expect(resolveConfig({ fullRefresh: [] }, {}).fullRefresh).toEqual({ kind: 'all' });
  });

  it("['a','b']: those tables, and they become the selected tables", () => {
    const c = resolveConfig({ fullRefresh: ['a', 'b'] }, {});
    expect(c.fullRefresh).toEqual({ kind: 'tables', tables: ['a', 'b'] });
    expect(c.tables).toEqual(['a', 'b']);
  });

  it('with tables given too: the union, tables first, no duplicates', () => {
    const c = resolveConfig({ tables: ['c', 'a'], fullRefresh: ['a', 'b'] }, {});
    expect(c.fullRefresh).toEqual({ kind: 'tables', tables: ['a', 'b'] });
    expect(c.tables).toEqual(['c', 'a', 'b']);
  });

  it('duplicates are removed from tables and from the full refresh list alone', () => {
    expect(resolveConfig({ tables: ['a', 'a', 'b'] }, {}).tables).toEqual(['a', 'b']);
    expect(resolveConfig({ fullRefresh: ['a', 'a'] }, {}).tables).toEqual(['a']);
  });

  it('tables: [] means every table', () => {
    expect(resolveConfig({ tables: [] }, {}).tables).toBeUndefined();
  });

  it('tables and the full refresh list are frozen', () => {
    const c = resolveConfig({ tables: ['c'], fullRefresh: ['a'] }, {});
    expect(Object.isFrozen(c.tables)).toBe(true);
    if (c.fullRefresh.kind !== 'tables') throw new Error('expected kind tables');
    expect(Object.isFrozen(c.fullRefresh.tables)).toBe(true);
  });

  it('the caller array is copied, not kept', () => {
    const list = ['a', 'b'];
    const c = resolveConfig({ fullRefresh: list, tables: list }, {});
    list.push('z');
    expect(c.tables).toEqual(['a', 'b']);
    expect(c.fullRefresh).toEqual({ kind: 'tables', tables: ['a', 'b'] });
  });

  it('an empty table name is a ConfigError', () => {
    configError(() => resolveConfig({ tables: [''] }, {}));
    configError(() => resolveConfig({ fullRefresh: [''] }, {}));
  });
});

describe('resolveConfig: dataset names', () => {
  it.each(['raw_datavision_local', 'A', '_x', 'a1_B2', 'a'.repeat(63)])('%s is allowed', (name) => {
    expect(resolveConfig({ dataset: name }, {}).dataset).toBe(name);
    expect(resolveConfig({}, { INGESTA_DATASET: name }).dataset).toBe(name);
  });

  it.each(['x;drop', '1abc', 'a-b', 'a b', 'a.b', '"x"', 'é', 'a'.repeat(64)])('%s is a ConfigError from the flag and the env var', (name) => {
    expect(configError(() => resolveConfig({ dataset: name }, {})).message).toContain(name);
    configError(() => resolveConfig({}, { INGESTA_DATASET: name }));
  });

  it('an empty --dataset flag is a ConfigError', () => {
    configError(() => resolveConfig({ dataset: '' }, {}));
  });
});

describe('resolveConfig: bad durations', () => {
  it.each(['abc', '15', '-5s', '15 fortnights', ' ', '1e3s', 's'])('lag %j is a ConfigError, as a flag and as INGESTA_LAG', (lag) => {
    configError(() => resolveConfig({ lag }, {}));
    configError(() => resolveConfig({}, { INGESTA_LAG: lag }));
  });

  it('an empty --lag flag is a ConfigError (an empty INGESTA_LAG is unset)', () => {
    configError(() => resolveConfig({ lag: '' }, {}));
    expect(resolveConfig({}, { INGESTA_LAG: '' }).lagSeconds).toBe(900);
  });

  it('the message names what was wrong', () => {
    expect(configError(() => resolveConfig({ lag: 'soon' }, {})).message).toMatch(/^Lag "soon" is not a duration/);
    expect(configError(() => resolveConfig({ statementTimeout: 'soon' }, {})).message).toMatch(/^Statement timeout "soon"/);
    expect(configError(() => resolveConfig({}, { INGESTA_LOCK_TIMEOUT: 'x' })).message).toMatch(/^Lock timeout "x"/);
  });
});

describe('parseDuration', () => {
  it.each([
    ['15 minutes', 900],
    ['15m', 900],
    ['15 min', 900],
    ['1 minute', 60],
    ['30s', 30],
    ['30 seconds', 30],
    ['1 sec', 1],
    ['1h', 3600],
    ['2 hours', 7200],
    ['1.5h', 5400],
    ['1 day', 86400],
    ['2d', 172800],
    ['500ms', 0.5],
    ['0', 0],
    ['0s', 0],
    ['  15 MINUTES  ', 900],
  ] as const)('%j = %d s', (text, seconds) => {
    expect(parseDuration(text, 'X')).toBe(seconds);
  });

  it.each(['', '15', 'm', '-1s', '+1s', '1 week', '1e3s', '1,5h', 'NaN', 'Infinity', '15 minutes ago', '.5h', '1 h 30 m'])(
    '%j is a ConfigError naming the setting',
    (text) => {
      const e = configError(() => parseDuration(text, 'My setting'));
      expect(e.message).toContain('My setting');
      expect(e.exitCode).toBe(2);
    },
  );

  it('a timeout PostgreSQL cannot hold, or a lag past 100 years, is a ConfigError (regression: --lock-timeout 30d was exit 3 "invalid value for parameter lock_timeout", --lag 1000000000d exit 3 "interval field value out of range")', () => {
    expect(configError(() => resolveConfig({ lockTimeout: '30d' }, {})).message).toBe('Lock timeout "30d" is longer than the 24 days it can be. Use a shorter duration.');
    expect(configError(() => resolveConfig({}, { INGESTA_STATEMENT_TIMEOUT: '25d' })).message).toMatch(/^Statement timeout "25d" is longer than the 24 days/);
    expect(configError(() => resolveConfig({ lag: '1000000000d' }, {})).message).toMatch(/^Lag "1000000000d" is longer than the 100 years/);
    expect(resolveConfig({ lockTimeout: '24d', statementTimeout: '24d', lag: '36500d' }, {}).lockTimeoutMs).toBe(24 * 86_400_000);
  });
});

describe('resolveConfig: reconcile', () => {
  it('off by default; --reconcile alone means every incremental table; names are loaded too', () => {
    expect(resolveConfig({}, {}).reconcile).toEqual({ always: { kind: 'none' }, otherwise: 'auto' });
    expect(resolveConfig({ reconcile: true }, {}).reconcile.always).toEqual({ kind: 'all' });
    const named = resolveConfig({ reconcile: ['contents'], tables: ['accounts'] }, {});
    expect(named.reconcile.always).toEqual({ kind: 'tables', tables: ['contents'] });
    expect(named.tables).toEqual(['accounts', 'contents']);
  });

  it('INGESTA_RECONCILE: all / true, a comma list, or off; the flag wins', () => {
    expect(resolveConfig({}, { INGESTA_RECONCILE: 'all' }).reconcile.always).toEqual({ kind: 'all' });
    expect(resolveConfig({}, { INGESTA_RECONCILE: 'TRUE' }).reconcile.always).toEqual({ kind: 'all' });
    expect(resolveConfig({}, { INGESTA_RECONCILE: 'contents, content_attributes' }).reconcile.always).toEqual({ kind: 'tables', tables: ['contents', 'content_attributes'] });
    expect(resolveConfig({}, { INGESTA_RECONCILE: 'false' }).reconcile).toEqual({ always: { kind: 'none' }, otherwise: 'never' });
    expect(resolveConfig({ reconcile: ['contents'] }, { INGESTA_RECONCILE: 'all' }).reconcile.always).toEqual({ kind: 'tables', tables: ['contents'] });
    // the variable says how those tables are loaded, not which are (regression: it narrowed a scheduled run to them)
    expect(resolveConfig({}, { INGESTA_RECONCILE: 'contents' }).tables).toBeUndefined();
    expect(resolveConfig({ reconcile: false }, {}).reconcile.otherwise).toBe('never');
    expect(resolveConfig({}, { INGESTA_RECONCILE: 'off' }).reconcile.otherwise).toBe('never');
    expect(resolveConfig({}, { INGESTA_RECONCILE: 'contents' }).reconcile.otherwise).toBe('auto');
  });
});
