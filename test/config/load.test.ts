import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { describeTargets } from '../../src/cli/context';
import { describeDatabase } from '../../src/config/database';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load';
import { redact, redactUrl } from '../../src/core/redact';
import { createLogger } from '../../src/logger';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'cfg-'));
const write = (name: string, text: string) => {
  const p = path.join(tmp, name);
  fs.writeFileSync(p, text);
  return p;
};

describe('loadConfig', () => {
  it('embedded defaults match the documented quick start', () => {
    const c = loadConfig({ env: {} });
    expect(c.server.port).toBe(8080);
    expect(c.server.metricsPort).toBe(9464);
    expect(c.database.path).toBe('./data/airflow-scim.db');
    expect(c.airflow.url).toBeNull();
    expect(c.airflow.apiVersion).toBe('auto');
    expect(c.airflow.username).toBe('{userName}');
    expect(c.deprovision).toBe('strip-roles');
    expect(c.safety).toEqual({ protectedUsers: ['admin'], maxDeprovisions: 10, maxDeprovisionPercent: 10, window: 3_600_000 });
    expect(c.reconcile.debounce).toBe(250);
    expect(c.reconcile.schedule).toBe('*/5 * * * *');
  });

  it('a config file overrides only the keys it sets, and the environment overrides the file', () => {
    const file = write('a.yaml', 'server:\n  port: 9000\nroles:\n  mappings:\n    - group: airflow-admins\n      roles: [Admin]\n');
    const c = loadConfig({ file, env: { PORT: '7000', DATABASE_PATH: '/data/x.db', SCIM_TOKEN: 'a-long-enough-bootstrap-token', AIRFLOW_URL: 'http://airflow:8080', AIRFLOW_API_VERSION: '3' } });
    expect(c.server.port).toBe(7000);
    expect(c.server.metricsPort).toBe(9464);
    expect(c.database.path).toBe('/data/x.db');
    expect(c.scim.token).toBe('a-long-enough-bootstrap-token');
    expect(c.airflow.url).toBe('http://airflow:8080');
    expect(c.airflow.apiVersion).toBe('3');
    expect(c.roles.mappings).toEqual([{ group: 'airflow-admins', roles: ['Admin'] }]);
  });

  it('AIRFLOW_SCIM_CONFIG names the file when --config is absent', () => {
    const file = write('b.yaml', 'logging:\n  level: debug\n');
    expect(loadConfig({ env: { AIRFLOW_SCIM_CONFIG: file } }).logging.level).toBe('debug');
  });

  it('reads the Airflow password from AIRFLOW_PASSWORD_FILE', () => {
    const pw = write('pw', 's3cret\n');
    expect(loadConfig({ env: { AIRFLOW_PASSWORD_FILE: pw } }).airflow.apiPassword).toBe('s3cret');
  });

  it('reports every problem at once, naming the offending key', () => {
    const file = write(
      'bad.yaml',
      [
        'server:',
        '  port: 99999',
        'airflow:',
        '  url: not a url',
        'roles:',
        '  mappings:',
        '    - roles: [Admin]',
        'safety:',
        '  maxDeprovision: 3',
        'deprovision: disable',
        'reconcile:',
        '  debounce: soon',
      ].join('\n'),
    );
    let err: unknown;
    try {
      loadConfig({ file, env: {} });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/^server\.port:/m);
    expect(problems).toMatch(/^airflow\.url:/m);
    expect(problems).toMatch(/^roles\.mappings\.0:.*exactly one of group/m);
    expect(problems).toMatch(/^safety:.*maxDeprovision/m);
    expect(problems).toMatch(/^deprovision:/m);
    expect(problems).toMatch(/^reconcile\.debounce:.*invalid duration/m);
    expect((err as ConfigError).problems.length).toBeGreaterThanOrEqual(6);
  });

  it('an unreadable or malformed file is a clear error', () => {
    expect(() => loadConfig({ file: path.join(tmp, 'missing.yaml'), env: {} })).toThrow(/cannot read \(ENOENT\)/);
    const file = write('broken.yaml', 'server: [\n');
    expect(() => loadConfig({ file, env: {} })).toThrow(ConfigError);
  });

  it('the result is frozen', () => {
    const c = parseConfig({});
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.safety.protectedUsers)).toBe(true);
  });
});

describe('cross-field checks', () => {
  it('rejects an unknown username placeholder and a bad cron schedule', () => {
    let err: unknown;
    try {
      parseConfig({ airflow: { username: 'okta_{oktaId}' }, reconcile: { schedule: 'every five minutes' } });
    } catch (e) {
      err = e;
    }
    const problems = (err as ConfigError).problems.join('\n');
    expect(problems).toMatch(/^airflow\.username:.*oktaId/m);
    expect(problems).toMatch(/^reconcile\.schedule:/m);
  });
});

describe('server.trustProxy (issue 11)', () => {
  const problemsOf = (input: Record<string, unknown>): string => {
    try {
      parseConfig(input);
    } catch (e) {
      return (e as ConfigError).problems.join('\n');
    }
    return '';
  };
  it('accepts a hop count or a list of trusted proxy addresses and CIDRs; false is 0 hops', () => {
    expect(parseConfig({ server: { trustProxy: 1 } }).server.trustProxy).toBe(1);
    expect(parseConfig({ server: { trustProxy: false } }).server.trustProxy).toBe(0);
    expect(parseConfig({}).server.trustProxy).toBe(0);
    expect(parseConfig({ server: { trustProxy: ['10.0.0.0/8', '192.168.1.10', 'fd00::/8', '::1'] } }).server.trustProxy).toEqual([
      '10.0.0.0/8',
      '192.168.1.10',
      'fd00::/8',
      '::1',
    ]);
  });
  it('refuses true (every X-Forwarded-For value would be believed) and anything that is not an address', () => {
    expect(problemsOf({ server: { trustProxy: true } })).toMatch(/^server\.trustProxy:.*hop count.*or a list/m);
    expect(problemsOf({ server: { trustProxy: 'loopback, 10.0.0.1' } })).toMatch(/^server\.trustProxy:/m);
    expect(problemsOf({ server: { trustProxy: ['10.0.0.0/33'] } })).toMatch(/^server\.trustProxy/m);
    expect(problemsOf({ server: { trustProxy: ['proxy.example.com'] } })).toMatch(/^server\.trustProxy/m);
    expect(problemsOf({ server: { trustProxy: -1 } })).toMatch(/^server\.trustProxy:/m);
  });
});

describe('airflow.url never carries credentials (issue 11)', () => {
  it('refuses a URL with a user or password, naming AIRFLOW_URL, and never echoes the password', () => {
    let err: unknown;
    try {
      loadConfig({ env: { AIRFLOW_URL: 'http://scim:hunter2-secret@airflow:8080' } });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    const text = (err as ConfigError).problems.join('\n') + (err as Error).message;
    expect(text).toMatch(/^airflow\.url \(from AIRFLOW_URL\): must not carry credentials.*AIRFLOW_USERNAME/m);
    expect(text).not.toContain('hunter2');
    expect(() => parseConfig({ airflow: { url: 'http://user@airflow:8080' } })).toThrow(ConfigError);
    expect(parseConfig({ airflow: { url: 'http://airflow:8080/base' } }).airflow.url).toBe('http://airflow:8080/base');
  });
});

describe('clear errors for the mistakes people make', () => {
  const problemsOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      return (e as ConfigError).problems.join('\n');
    }
    throw new Error('expected a ConfigError');
  };

  it('rejects an airflow.url without http:// or https:// at load time', () => {
    expect(problemsOf(() => parseConfig({ airflow: { url: 'airflow-webserver:8080' } }))).toMatch(/^airflow\.url: must start with http:\/\/ or https:\/\//m);
    expect(problemsOf(() => parseConfig({ airflow: { url: 'ftp://airflow' } }))).toMatch(/^airflow\.url: must start with http/m);
    expect(parseConfig({ airflow: { url: 'https://airflow.example.com' } }).airflow.url).toBe('https://airflow.example.com');
  });

  it('a problem in a value from the environment names the variable', () => {
    const p = problemsOf(() => loadConfig({ env: { AIRFLOW_API_VERSION: '4', AIRFLOW_URL: 'airflow:8080', PORT: 'eighty' } }));
    expect(p).toMatch(/^airflow\.apiVersion \(from AIRFLOW_API_VERSION\):/m);
    expect(p).toMatch(/^airflow\.url \(from AIRFLOW_URL\):/m);
    expect(p).toMatch(/^server\.port \(from PORT\):/m);
  });

  it('the username template and cron checks are reported together with every other problem', () => {
    const p = problemsOf(() => parseConfig({ server: { port: -1 }, airflow: { username: 'okta_{oktaId}' }, reconcile: { schedule: 'every five minutes' } }));
    expect(p).toMatch(/^server\.port:/m);
    expect(p).toMatch(/^airflow\.username:.*oktaId/m);
    expect(p).toMatch(/^reconcile\.schedule:/m);
    const fromEnv = problemsOf(() => loadConfig({ env: { RECONCILE_SCHEDULE: 'soon', PORT: '-3' } }));
    expect(fromEnv).toMatch(/^reconcile\.schedule \(from RECONCILE_SCHEDULE\):/m);
    expect(fromEnv).toMatch(/^server\.port \(from PORT\):/m);
  });

  it('headersTimeout must be above keepAliveTimeout', () => {
    expect(problemsOf(() => parseConfig({ server: { keepAliveTimeout: '70s', headersTimeout: '65s' } }))).toMatch(/^server\.headersTimeout: must be above server\.keepAliveTimeout/m);
    expect(parseConfig({}).server).toMatchObject({ keepAliveTimeout: 65_000, headersTimeout: 66_000 });
  });
});

describe('database: SQLite by default, PostgreSQL with DATABASE_URL', () => {
  const problemsOf = (fn: () => unknown): string => {
    try {
      fn();
    } catch (e) {
      return (e as ConfigError).problems.join('\n') + '\n' + (e as Error).message;
    }
    throw new Error('expected a ConfigError');
  };

  it('defaults: no url (SQLite), schema airflow_scim, a pool of 10', () => {
    const c = loadConfig({ env: {} });
    expect(c.database).toEqual({ path: './data/airflow-scim.db', schema: 'airflow_scim', poolSize: 10 });
    expect(c.database.url).toBeUndefined();
  });

  it('DATABASE_URL sets database.url and DATABASE_SCHEMA the schema; path keeps its value but is not used', () => {
    const c = loadConfig({ env: { DATABASE_URL: 'postgresql://scim:s3cret@db.example.com:5432/airflow?sslmode=require', DATABASE_SCHEMA: 'scim_prod', DATABASE_PATH: '/data/x.db' } });
    expect(c.database.url).toBe('postgresql://scim:s3cret@db.example.com:5432/airflow?sslmode=require');
    expect(c.database.schema).toBe('scim_prod');
    const file = write('pg.yaml', 'database:\n  url: postgres://scim@db/airflow\n  poolSize: 25\n');
    expect(loadConfig({ file, env: {} }).database).toMatchObject({ url: 'postgres://scim@db/airflow', poolSize: 25 });
    expect(parseConfig({ database: { url: null } }).database.url).toBeUndefined();
    expect(parseConfig({ database: { url: 'postgres:///airflow?host=/var/run/postgresql' } }).database.url).toBe('postgres:///airflow?host=/var/run/postgresql');
  });

  it('another scheme is a clear error naming DATABASE_URL and database.url, without echoing the URL', () => {
    const fromEnv = problemsOf(() => loadConfig({ env: { DATABASE_URL: 'mysql://scim:hunter2-secret@db/airflow' } }));
    expect(fromEnv).toMatch(/^database\.url \(from DATABASE_URL\): must be a PostgreSQL connection string \(DATABASE_URL or database\.url\) starting with postgres:\/\/ or postgresql:\/\/.*got mysql:\/\//m);
    expect(fromEnv).not.toContain('hunter2');
    expect(problemsOf(() => parseConfig({ database: { url: 'db.example.com:5432/airflow' } }))).toMatch(/^database\.url: must be a PostgreSQL connection string.*got no scheme/m);
    expect(problemsOf(() => parseConfig({ database: { url: './data/airflow-scim.db' } }))).toMatch(/^database\.url: .*unset it to use SQLite \(DATABASE_PATH\)/m);
  });

  it('a URL that does not parse (no host) is refused, without echoing the password', () => {
    const p = problemsOf(() => loadConfig({ env: { DATABASE_URL: 'postgres://scim:hunter2-secret@/airflow' } }));
    expect(p).toMatch(/^database\.url \(from DATABASE_URL\): is not a valid PostgreSQL URL.*percent-encoded/m);
    expect(p).not.toContain('hunter2');
  });

  it('schema must be a lowercase SQL identifier of at most 63 characters', () => {
    for (const ok of ['airflow_scim', '_x', 'a', 'a'.repeat(63), 'scim2']) expect(parseConfig({ database: { schema: ok } }).database.schema).toBe(ok);
    for (const bad of ['Airflow', '2scim', 'airflow-scim', 'a'.repeat(64), '', 'public; drop table x', '"quoted"']) {
      expect(problemsOf(() => parseConfig({ database: { schema: bad } }))).toMatch(/^database\.schema: must be a lowercase SQL identifier/m);
    }
    expect(problemsOf(() => loadConfig({ env: { DATABASE_SCHEMA: 'Scim' } }))).toMatch(/^database\.schema \(from DATABASE_SCHEMA\):/m);
  });

  it('poolSize is an integer from 1 to 100; unknown database keys are refused', () => {
    expect(parseConfig({ database: { poolSize: 1 } }).database.poolSize).toBe(1);
    expect(parseConfig({ database: { poolSize: 100 } }).database.poolSize).toBe(100);
    for (const bad of [0, 101, 2.5, '10']) expect(problemsOf(() => parseConfig({ database: { poolSize: bad } }))).toMatch(/^database\.poolSize:/m);
    expect(problemsOf(() => parseConfig({ database: { URL: 'postgres://db/x' } }))).toMatch(/^database:.*URL/m);
  });

  it('every problem is reported together with the others', () => {
    const p = problemsOf(() => loadConfig({ env: { DATABASE_URL: 'sqlite://x', DATABASE_SCHEMA: 'Bad-Name', PORT: 'eighty' } }));
    expect(p).toMatch(/^database\.url \(from DATABASE_URL\):/m);
    expect(p).toMatch(/^database\.schema \(from DATABASE_SCHEMA\):/m);
    expect(p).toMatch(/^server\.port \(from PORT\):/m);
  });
});

describe('the database URL password is never shown', () => {
  it('describeDatabase: the URL with its password masked and the schema, or the SQLite file', () => {
    const pg = parseConfig({ database: { url: 'postgres://scim:hunter2@db.example.com:5432/airflow' } });
    expect(describeDatabase(pg.database)).toBe('postgres://scim:***@db.example.com:5432/airflow (schema airflow_scim)');
    expect(describeDatabase(parseConfig({ database: { path: 'x.db' } }).database, (p) => `/abs/${p}`)).toBe('/abs/x.db');
    expect(describeDatabase(parseConfig({ database: { path: ':memory:' } }).database, (p) => `/abs/${p}`)).toBe(':memory:');
  });

  it('what every CLI command prints about its targets', () => {
    const c = loadConfig({ env: { DATABASE_URL: 'postgresql://scim:hunter2@db/airflow', AIRFLOW_URL: 'http://airflow:8080' } });
    expect(describeTargets(c)).toBe('database postgresql://scim:***@db/airflow (schema airflow_scim); Airflow http://airflow:8080 (API version auto)');
  });

  it('the logger masks it in fields, nested objects and the message, in both formats', () => {
    for (const format of ['json', 'pretty'] as const) {
      const stream = new PassThrough();
      let text = '';
      stream.on('data', (d) => (text += d));
      const log = createLogger('info', { stream, format });
      const url = 'postgres://scim:hunter2@db.example.com/airflow';
      log.info(`cannot connect to ${url}`, { database: url, config: { database: { url, schema: 'airflow_scim' } } });
      expect(text).not.toContain('hunter2');
      expect(text).toContain('postgres://scim:***@db.example.com/airflow');
    }
  });

  it('redactUrl masks the password and only the password', () => {
    const cases: Array<[string, string]> = [
      ['postgres://scim:hunter2@db:5432/x', 'postgres://scim:***@db:5432/x'],
      ['postgresql://scim:p%40ss@db/x?sslmode=require', 'postgresql://scim:***@db/x?sslmode=require'],
      ['postgres://scim:p@ss@db/x', 'postgres://scim:***@db/x'], // an unencoded @: the user info ends at the last one
      ['postgres://scim:pa/ss@db/x', 'postgres://scim:***@db/x'], // an unencoded /
      ['postgres://db/x?user=scim&password=hunter2&sslmode=require', 'postgres://db/x?user=scim&password=***&sslmode=require'],
      ['error at postgres://a:b@h1/x and postgres://c:d@h2/y.', 'error at postgres://a:***@h1/x and postgres://c:***@h2/y.'],
      ['postgres://scim@db/x', 'postgres://scim@db/x'],
      ['postgres://db:5432/x', 'postgres://db:5432/x'],
      ['http://airflow:8080/api/v1/users/jane@corp.io', 'http://airflow:8080/api/v1/users/jane@corp.io'],
      ['GET /users/jane@corp.io', 'GET /users/jane@corp.io'],
      ['no url here: a:b@c', 'no url here: a:b@c'],
    ];
    for (const [input, want] of cases) expect(redactUrl(input)).toBe(want);
  });

  it('redact (logs and audit records) masks URL passwords in string values too', () => {
    expect(redact({ database: { url: 'postgres://u:hunter2@db/x' }, list: ['postgres://u:pw@db/x'], n: 3 })).toEqual({
      database: { url: 'postgres://u:***@db/x' },
      list: ['postgres://u:***@db/x'],
      n: 3,
    });
  });
});
