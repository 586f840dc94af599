import { main, USAGE } from '../../dev/fake-airflow/main';

test('--help prints the options and starts nothing', async () => {
  const out: string[] = [];
  const write = jest.spyOn(process.stdout, 'write').mockImplementation((s: string | Uint8Array) => {
    out.push(String(s));
    return true;
  });
  try {
    await main(['--help']);
  } finally {
    write.mockRestore();
  }
  expect(out.join('')).toBe(USAGE);
  for (const option of ['--version 2|3', '--port N', '--fab-version', '--seed-users N']) expect(USAGE).toContain(option);
});
