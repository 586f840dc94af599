import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ConfigError, loadConfig, parseConfig } from '../../src/config/load';

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
