/**
 * Runs the fake Airflow by itself:
 *   node dist/dev/fake-airflow/main.js --version 3 --port 28080 [--host 127.0.0.1] [--airflow-version 3.3.2]
 *     [--admin-user admin] [--admin-password admin] [--seed-users 0]
 */
import { startFakeAirflow } from './fake-airflow';

function arg(argv: string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) return argv[i + 1];
  const eq = argv.find((a) => a.startsWith(`--${name}=`));
  return eq?.slice(name.length + 3);
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  const v = arg(argv, 'version') ?? '2';
  if (v !== '2' && v !== '3') throw new Error(`--version must be 2 or 3, not ${v}`);
  const fake = await startFakeAirflow({
    version: v === '3' ? 3 : 2,
    port: Number(arg(argv, 'port') ?? 28080),
    host: arg(argv, 'host') ?? '127.0.0.1',
    airflowVersion: arg(argv, 'airflow-version'),
    adminUser: arg(argv, 'admin-user'),
    adminPassword: arg(argv, 'admin-password'),
  });
  const seed = Number(arg(argv, 'seed-users') ?? 0);
  if (seed > 0) fake.state.addUsers(seed);
  process.stdout.write(
    `fake Airflow ${fake.airflowVersion} listening on ${fake.url}\n` +
      `API user: ${fake.admin.username} / password: ${fake.admin.password}\n` +
      `user/role API: ${fake.basePaths.join(', ')}\n`,
  );
  const stop = (): void => void fake.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (require.main === module) {
  main().catch((e: unknown) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  });
}
