import { PassThrough } from 'node:stream';
import { createLogger, resolveLogFormat } from '../../src/logger';
import { loadConfig, ConfigError } from '../../src/config/load';

function capture(format: 'pretty' | 'json') {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d) => (text += d));
  const log = createLogger('info', { stream, format });
  return { log, text: () => text };
}

describe('log format', () => {
  test('pretty: one readable line, fields as key=value, secrets still redacted', () => {
    const c = capture('pretty');
    c.log.warn('reconcile run', { component: 'reconcile', result: 'blocked', held: 3, password: 'hunter2' });
    expect(c.text()).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z warn {2}reconcile run component=reconcile result=blocked held=3 password=\[redacted\]\n$/);
  });

  test('json: one JSON object per line', () => {
    const c = capture('json');
    c.log.info('listening', { url: 'http://x' });
    expect(JSON.parse(c.text())).toMatchObject({ level: 'info', message: 'listening', url: 'http://x' });
  });

  test('auto is pretty on a terminal, JSON otherwise', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  test('LOG_FORMAT sets logging.format and is validated', () => {
    expect(loadConfig({ env: { LOG_FORMAT: 'pretty' } }).logging.format).toBe('pretty');
    expect(loadConfig({ env: {} }).logging.format).toBe('auto');
    expect(() => loadConfig({ env: { LOG_FORMAT: 'xml' } })).toThrow(ConfigError);
    expect(() => loadConfig({ env: { LOG_FORMAT: 'xml' } })).toThrow(/logging\.format \(from LOG_FORMAT\)/);
  });
});
