import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeSource, hasSourceSetting, resolveSourceConnection, type SourceConnection } from '../../src/config/source-connection.js';
import { configError } from '../helpers/expect-error.js';

const SECRET = 'S3cr3t-pa55word-do-not-print';
const OS_USER = userInfo().username;


describe('resolveSourceConnection: defaults (libpq)', () => {
  it('with nothing set: localhost, 5432, OS user, database = user, sslmode prefer, no password', () => {
    const c = resolveSourceConnection({});
    expect(c).toEqual({
      host: 'localhost',
      port: 5432,
      database: OS_USER,
      user: OS_USER,
      password: undefined,
      sslMode: 'prefer',
      sslRootCert: undefined,
      connectTimeoutMs: 10_000,
    });
  });

  it('database defaults to the resolved user, not the OS user', () => {
    const c = resolveSourceConnection({ PGUSER: 'alice' });
    expect(c.user).toBe('alice');
    expect(c.database).toBe('alice');
  });

  it('empty strings count as unset', () => {
    const c = resolveSourceConnection(
      { DATABASE_URL: '', DATABASE_HOST: '', PGHOST: '', DATABASE_PORT: '', PGPORT: '', PGUSER: '', PGSSLMODE: '' },
      '',
    );
    expect(c.host).toBe('localhost');
    expect(c.port).toBe(5432);
    expect(c.user).toBe(OS_USER);
    expect(c.sslMode).toBe('prefer');
  });

  it('returns a frozen object', () => {
    expect(Object.isFrozen(resolveSourceConnection({}))).toBe(true);
  });
});

describe('resolveSourceConnection: precedence, field by field', () => {
  const pg = {
    PGHOST: 'pg-host',
    PGPORT: '6001',
    PGDATABASE: 'pg_db',
    PGUSER: 'pg_user',
    PGPASSWORD: 'pg-pass',
    PGSSLMODE: 'disable',
  };
  const database = {
    DATABASE_HOST: 'db-host',
    DATABASE_PORT: '6002',
    DATABASE_NAME: 'db_name',
    DATABASE_USERNAME: 'db_user',
    DATABASE_PASSWORD: 'db-pass',
  };

  it('PG* variables are used when nothing else is set', () => {
    const c = resolveSourceConnection(pg);
    expect(c).toMatchObject({ host: 'pg-host', port: 6001, database: 'pg_db', user: 'pg_user', password: 'pg-pass', sslMode: 'disable' });
  });

  it('DATABASE_* beat PG*; sslmode still comes from PGSSLMODE', () => {
    const c = resolveSourceConnection({ ...pg, ...database });
    expect(c).toMatchObject({ host: 'db-host', port: 6002, database: 'db_name', user: 'db_user', password: 'db-pass', sslMode: 'disable' });
  });

  it('the URL beats DATABASE_* and PG* for every field it sets', () => {
    const c = resolveSourceConnection({
      ...pg,
      ...database,
      DATABASE_URL: 'postgres://url_user:url-pass@url-host:6003/url_db?sslmode=require',
    });
    expect(c).toMatchObject({ host: 'url-host', port: 6003, database: 'url_db', user: 'url_user', password: 'url-pass', sslMode: 'require' });
  });

  it('fields missing from the URL fall through to DATABASE_*, then PG*, field by field', () => {
    const c = resolveSourceConnection({
      DATABASE_URL: 'postgres://url-host/',
      DATABASE_USERNAME: 'db_user',
      PGPORT: '6001',
      PGPASSWORD: 'pg-pass',
      PGDATABASE: 'pg_db',
    });
    expect(c).toMatchObject({ host: 'url-host', port: 6001, database: 'pg_db', user: 'db_user', password: 'pg-pass', sslMode: 'prefer' });
  });

  it('each DATABASE_* field only overrides its own PG* field', () => {
    const c = resolveSourceConnection({ ...pg, DATABASE_HOST: 'db-host' });
    expect(c).toMatchObject({ host: 'db-host', port: 6001, database: 'pg_db', user: 'pg_user', password: 'pg-pass' });
  });

  it('--source-url beats DATABASE_URL (entirely: DATABASE_URL fields are not merged in)', () => {
    const c = resolveSourceConnection(
      { DATABASE_URL: 'postgres://env_user:env-pass@env-host:7000/env_db?sslmode=require' },
      'postgres://flag-host/flag_db',
    );
    expect(c.host).toBe('flag-host');
    expect(c.database).toBe('flag_db');
    expect(c.port).toBe(5432);
    expect(c.user).toBe(OS_USER);
    expect(c.password).toBeUndefined();
    expect(c.sslMode).toBe('prefer');
  });

  it('postgresql:// is accepted as well as postgres://', () => {
    const c = resolveSourceConnection({}, 'postgresql://u@h:5433/d');
    expect(c).toMatchObject({ host: 'h', port: 5433, database: 'd', user: 'u' });
  });

  it('PGSSLROOTCERT and ?sslrootcert= set sslRootCert, the URL first', () => {
    expect(resolveSourceConnection({ PGSSLROOTCERT: '/etc/ca.pem' }).sslRootCert).toBe('/etc/ca.pem');
    const c = resolveSourceConnection({ PGSSLROOTCERT: '/etc/ca.pem' }, 'postgres://h/d?sslmode=verify-full&sslrootcert=/url/ca.pem');
    expect(c.sslMode).toBe('verify-full');
    expect(c.sslRootCert).toBe('/url/ca.pem');
  });
});

describe('resolveSourceConnection: URL details', () => {
  it('decodes percent-encoded user, password and database', () => {
    const c = resolveSourceConnection({}, 'postgres://us%40er:p%40ss%3Aw%2Frd%23%20x@host/my%20db%2Fx');
    expect(c.user).toBe('us@er');
    expect(c.password).toBe('p@ss:w/rd# x');
    expect(c.database).toBe('my db/x');
  });

  it('keeps non-ASCII user and database names', () => {
    const c = resolveSourceConnection({}, 'postgres://j%C3%BCrgen@host/d%C3%A9p%C3%B4t');
    expect(c.user).toBe('jürgen');
    expect(c.database).toBe('dépôt');
  });

  it('?host=/var/run/postgresql gives a unix socket directory', () => {
    const c = resolveSourceConnection({}, 'postgres:///appdb?host=/var/run/postgresql');
    expect(c.host).toBe('/var/run/postgresql');
    expect(c.database).toBe('appdb');
    expect(c.port).toBe(5432);
  });

  it('?host= beats the host of the authority part', () => {
    const c = resolveSourceConnection({}, 'postgres://ignored:5444/appdb?host=%2Ftmp%2Fsock');
    expect(c.host).toBe('/tmp/sock');
    expect(c.port).toBe(5444);
  });

  it('?port= beats the port of the authority part, as every other field (regression: the authority won)', () => {
    expect(resolveSourceConnection({}, 'postgres://h:5444/d?port=6543').port).toBe(6543);
  });

  it('?service= and ?options= are refused, not silently ignored (regression: service fell back to the defaults)', () => {
    expect(() => resolveSourceConnection({}, 'postgres://h/d?service=prod')).toThrow(/does not support: "service"/);
    expect(() => resolveSourceConnection({}, 'postgres://h/d?options=-c%20search_path%3Dx')).toThrow(/does not support: "options"/);
  });

  it('?sslmode=require is read', () => {
    expect(resolveSourceConnection({}, 'postgres://h/d?sslmode=require').sslMode).toBe('require');
  });

  it('the URL sslmode beats PGSSLMODE', () => {
    expect(resolveSourceConnection({ PGSSLMODE: 'disable' }, 'postgres://h/d?sslmode=verify-ca').sslMode).toBe('verify-ca');
  });

  it('an IPv6 host loses its brackets', () => {
    const c = resolveSourceConnection({}, 'postgres://[::1]:5433/d');
    expect(c.host).toBe('::1');
    expect(c.port).toBe(5433);
  });

  it('a URL without a path leaves the database to the next layers', () => {
    expect(resolveSourceConnection({ DATABASE_NAME: 'fallback' }, 'postgres://h').database).toBe('fallback');
    expect(resolveSourceConnection({ DATABASE_NAME: 'fallback' }, 'postgres://h/').database).toBe('fallback');
  });

  // libpq decodes only %XX in URI query parameters; '+' is a literal plus (not form encoding).
  it('a "+" in a query parameter stays a "+" (libpq does not decode it as a space)', () => {
    const c = resolveSourceConnection({}, 'postgres:///d?host=/tmp/pg+sock&sslmode=verify-full&sslrootcert=/certs/a+b.pem');
    expect(c.host).toBe('/tmp/pg+sock');
    expect(c.sslRootCert).toBe('/certs/a+b.pem');
  });
});

describe('resolveSourceConnection: bad input is a ConfigError that never shows the password', () => {
  it('an unparsable --source-url', () => {
    const e = configError(() => resolveSourceConnection({}, `not a url ${SECRET}`));
    expect(e.message).toContain('--source-url');
    expect(e.message).not.toContain(SECRET);
    expect(e.exitCode).toBe(2);
  });

  it('an unparsable DATABASE_URL names DATABASE_URL', () => {
    const e = configError(() => resolveSourceConnection({ DATABASE_URL: `postgres://u:${SECRET}@host:port/db` }));
    expect(e.message).toContain('DATABASE_URL');
    expect(e.message).not.toContain(SECRET);
  });

  it('a non-postgres scheme', () => {
    const e = configError(() => resolveSourceConnection({}, `mysql://u:${SECRET}@host/db`));
    expect(e.message).toMatch(/postgres:\/\//);
    expect(e.message).not.toContain(SECRET);
  });

  it('http:// is not PostgreSQL either', () => {
    const e = configError(() => resolveSourceConnection({ DATABASE_URL: `http://u:${SECRET}@host/db` }));
    expect(e.message).not.toContain(SECRET);
  });

  it.each(['abc', '70000', '0', '-1', '5432.5', '65536'])('port %s in the URL', (port) => {
    const e = configError(() => resolveSourceConnection({}, `postgres://u:${SECRET}@host:${port}/db`));
    expect(e.message).not.toContain(SECRET);
  });

  it.each(['abc', '70000', '0', '-1', '5432.5', '65536'])('port %s in DATABASE_PORT / PGPORT', (port) => {
    const e1 = configError(() => resolveSourceConnection({ DATABASE_PORT: port, DATABASE_PASSWORD: SECRET }));
    expect(e1.message).toContain(port);
    expect(e1.message).not.toContain(SECRET);
    const e2 = configError(() => resolveSourceConnection({ PGPORT: port, PGPASSWORD: SECRET }));
    expect(e2.message).not.toContain(SECRET);
  });

  it('accepts the port range bounds 1 and 65535', () => {
    expect(resolveSourceConnection({ PGPORT: '1' }).port).toBe(1);
    expect(resolveSourceConnection({ PGPORT: '65535' }).port).toBe(65535);
  });

  it('an invalid sslmode (URL or PGSSLMODE) is rejected', () => {
    const e1 = configError(() => resolveSourceConnection({}, `postgres://u:${SECRET}@h/d?sslmode=sometimes`));
    expect(e1.message).toContain('sometimes');
    expect(e1.message).not.toContain(SECRET);
    configError(() => resolveSourceConnection({ PGSSLMODE: 'REQUIRE' }));
    configError(() => resolveSourceConnection({ PGSSLMODE: 'true' }));
  });

  it.each(['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'])('sslmode %s is accepted', (mode) => {
    expect(resolveSourceConnection({ PGSSLMODE: mode }).sslMode).toBe(mode);
  });

  // A malformed %-escape gets past `new URL` but makes decodeURIComponent throw a URIError:
  // that is bad input and must be a ConfigError (exit 2), not an unexpected error (exit 1).
  it('a malformed percent-escape in the password is a ConfigError', () => {
    const e = configError(() => resolveSourceConnection({}, `postgres://u:${SECRET}%zz@host/db`));
    expect(e.message).not.toContain(SECRET);
  });

  it('a malformed percent-escape in the database name is a ConfigError', () => {
    configError(() => resolveSourceConnection({ DATABASE_URL: 'postgres://u@host/db%E0%A4' }));
  });
});

describe('describeSource', () => {
  it('shows host, port, database and user, never the password', () => {
    const c = resolveSourceConnection({}, `postgres://alice:${SECRET}@db.example:6543/app`);
    const text = describeSource(c);
    expect(text).toBe('host=db.example port=6543 database=app user=alice');
    expect(text).not.toContain(SECRET);
  });

  it('never contains the password, wherever it came from', () => {
    for (const env of [{ DATABASE_PASSWORD: SECRET }, { PGPASSWORD: SECRET }]) {
      const c = resolveSourceConnection(env);
      expect(c.password).toBe(SECRET);
      expect(describeSource(c)).not.toContain(SECRET);
    }
  });

  it('works on a hand-built connection', () => {
    const c: SourceConnection = {
      host: '/var/run/postgresql',
      port: 5432,
      database: 'd',
      user: 'u',
      password: SECRET,
      sslMode: 'disable',
      sslRootCert: undefined,
    };
    expect(describeSource(c)).toBe('host=/var/run/postgresql port=5432 database=d user=u');
  });
});

describe('PGPASSFILE', () => {
  let dir: string;
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    writeFileSync(file, text, { mode: 0o600 });
    return file;
  };

  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'ingesta-pgpass-'));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('reads the password of the first matching line', () => {
    const file = write(
      'exact',
      ['# comment line', 'otherhost:5432:app:alice:wrong-host', 'pghost:5432:app:alice:first', 'pghost:5432:app:alice:second', ''].join('\n'),
    );
    const c = resolveSourceConnection({ PGPASSFILE: file, PGHOST: 'pghost', PGDATABASE: 'app', PGUSER: 'alice' });
    expect(c.password).toBe('first');
  });

  it('matches "*" wildcards and the default host/port', () => {
    const file = write('wild', '*:*:*:*:wildcard-pw\n');
    expect(resolveSourceConnection({ PGPASSFILE: file }).password).toBe('wildcard-pw');
    const file2 = write('default-host', 'localhost:5432:app:bob:local-pw\n');
    expect(resolveSourceConnection({ PGPASSFILE: file2, PGDATABASE: 'app', PGUSER: 'bob' }).password).toBe('local-pw');
  });

  it('takes the port into account', () => {
    const file = write('port', 'h:5432:*:*:p5432\nh:6000:*:*:p6000\n');
    expect(resolveSourceConnection({ PGPASSFILE: file, PGHOST: 'h', PGPORT: '6000' }).password).toBe('p6000');
  });

  it('handles escaped colons and backslashes, and keeps colons after the 4th field', () => {
    const file = write('escaped', 'h:5432:db:u:pa\\:ss\\\\word\nh2:5432:db:u:a:b:c\n');
    expect(resolveSourceConnection({ PGPASSFILE: file, PGHOST: 'h', PGDATABASE: 'db', PGUSER: 'u' }).password).toBe('pa:ss\\word');
    expect(resolveSourceConnection({ PGPASSFILE: file, PGHOST: 'h2', PGDATABASE: 'db', PGUSER: 'u' }).password).toBe('a:b:c');
  });

  it('no matching line, or a missing file, means no password (and no error)', () => {
    const file = write('nomatch', 'elsewhere:5432:*:*:nope\n');
    expect(resolveSourceConnection({ PGPASSFILE: file }).password).toBeUndefined();
    expect(resolveSourceConnection({ PGPASSFILE: path.join(dir, 'does-not-exist') }).password).toBeUndefined();
  });

  it('skips lines with fewer than 5 fields', () => {
    const file = write('short', 'localhost:5432:*\nlocalhost:5432:*:*:ok\n');
    expect(resolveSourceConnection({ PGPASSFILE: file }).password).toBe('ok');
  });

  it('PGPASSWORD, DATABASE_PASSWORD and the URL password all beat the file', () => {
    const file = write('beaten', '*:*:*:*:from-file\n');
    expect(resolveSourceConnection({ PGPASSFILE: file, PGPASSWORD: 'pgpw' }).password).toBe('pgpw');
    expect(resolveSourceConnection({ PGPASSFILE: file, DATABASE_PASSWORD: 'dbpw' }).password).toBe('dbpw');
    expect(resolveSourceConnection({ PGPASSFILE: file }, 'postgres://u:urlpw@h/d').password).toBe('urlpw');
    expect(resolveSourceConnection({ PGPASSFILE: file }, 'postgres://u@h/d').password).toBe('from-file');
  });

  // libpq strips the trailing CR of CRLF lines (pg_strip_crlf): a pgpass edited on Windows still works.
  it('a CRLF file gives the password without a trailing carriage return', () => {
    const file = write('crlf', 'localhost:5432:*:*:crlf-pw\r\n');
    expect(resolveSourceConnection({ PGPASSFILE: file }).password).toBe('crlf-pw');
  });

  // libpq matches the file against the connection actually made (host/port/db/user after every default
  // and every other source), not against the PG* variables alone.
  it('matches against the resolved host/port/database/user, e.g. from DATABASE_URL', () => {
    const file = write('resolved', ['localhost:5432:*:*:localhost-pw', 'db.example:6543:app:alice:remote-pw', ''].join('\n'));
    const c = resolveSourceConnection({ PGPASSFILE: file, DATABASE_URL: 'postgres://alice@db.example:6543/app' });
    expect(c.host).toBe('db.example');
    // must never send localhost's password to db.example
    expect(c.password).toBe('remote-pw');
  });

  it('matches against DATABASE_HOST / DATABASE_USERNAME too', () => {
    const file = write('resolved-db', 'dbhost:5432:*:carol:carol-pw\n');
    const c = resolveSourceConnection({ PGPASSFILE: file, DATABASE_HOST: 'dbhost', DATABASE_USERNAME: 'carol' });
    expect(c.password).toBe('carol-pw');
  });

  it('a line for the OS user matches when the user defaults to the OS user (and the database to the user)', () => {
    const file = write('os-user', `localhost:5432:${OS_USER}:${OS_USER}:mine\n`);
    const c = resolveSourceConnection({ PGPASSFILE: file });
    expect(c.user).toBe(OS_USER);
    expect(c.database).toBe(OS_USER);
    expect(c.password).toBe('mine');
  });

  it('a line for another user does not match when the user defaults to the OS user', () => {
    const other = `${OS_USER}-someone-else`;
    const file = write('other-user', `localhost:5432:*:${other}:not-yours\n`);
    const c = resolveSourceConnection({ PGPASSFILE: file });
    expect(c.user).toBe(OS_USER);
    expect(c.password).toBeUndefined();
  });
});

describe('resolveSourceConnection: connect_timeout (regression: ignored, a silent listener hung a run 36 s)', () => {
  it('defaults to 10 s for the whole attempt', () => {
    expect(resolveSourceConnection({}).connectTimeoutMs).toBe(10_000);
  });
  it('comes from ?connect_timeout= in the URL, else PGCONNECT_TIMEOUT, in seconds as libpq (1 means 2, 0 no limit)', () => {
    expect(resolveSourceConnection({ PGCONNECT_TIMEOUT: '7' }, 'postgres://u@h/db?connect_timeout=3').connectTimeoutMs).toBe(3000);
    expect(resolveSourceConnection({ PGCONNECT_TIMEOUT: '7' }).connectTimeoutMs).toBe(7000);
    expect(resolveSourceConnection({}, 'postgres://u@h/db?connect_timeout=1').connectTimeoutMs).toBe(2000);
    expect(resolveSourceConnection({}, 'postgres://u@h/db?connect_timeout=0').connectTimeoutMs).toBe(0);
  });
  it('a value that is not a whole number of seconds is a configuration error naming where it came from', () => {
    expect(configError(() => resolveSourceConnection({ PGCONNECT_TIMEOUT: '5s' })).message).toMatch(/connect_timeout "5s".*PGCONNECT_TIMEOUT/);
  });
});

describe('whether a setting says where the source is (status reads a CDC slot only then)', () => {
  it('a URL, the DATABASE_* or PG* location variables; a password or libpq\'s defaults alone are not', () => {
    expect(hasSourceSetting(undefined, {})).toBe(false);
    expect(hasSourceSetting(undefined, { DATABASE_PASSWORD: 'x', PGPASSWORD: 'y', PGSERVICE: 'svc', DATABASE_URL: '' })).toBe(false);
    expect(hasSourceSetting('postgresql://h/db', {})).toBe(true);
    for (const v of ['DATABASE_URL', 'DATABASE_HOST', 'DATABASE_NAME', 'PGHOST', 'PGDATABASE', 'PGUSER']) expect(hasSourceSetting(undefined, { [v]: 'x' }), v).toBe(true);
  });
});
