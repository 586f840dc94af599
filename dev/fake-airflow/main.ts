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

export const USAGE = `Usage: node dist/dev/fake-airflow/main.js [options]

A stateful fake of Airflow's user and role REST API (a development tool; the real-Airflow suite checks it).

Options:
  --version 2|3                Airflow API flavour (default 2): 2.x basic auth, 3.x JWT from POST /auth/token
  --port N                     port to listen on (default 28080; 0 = any free port)
  --host H                     address to listen on (default 127.0.0.1)
  --airflow-version X.Y.Z      version the version endpoint reports (default 2.10.5 or 3.3.2)
  --fab-version X.Y.Z          FAB provider version: role PATCH replaces from 3.8.1 (default 1.5.3 or 3.10.2)
  --admin-user NAME            API user (default admin)
  --admin-password PASSWORD    its password (default admin)
  --seed-users N               users user0000… with the Viewer role (default 0)
  -h, --help                   this text
`;

export async function main(argv: string[] = process.argv.slice(2)): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(USAGE);
    return;
  }
  const v = arg(argv, 'version') ?? '2';
  if (v !== '2' && v !== '3') throw new Error(`--version must be 2 or 3, not ${v}`);
  const fake = await startFakeAirflow({
    version: v === '3' ? 3 : 2,
    port: Number(arg(argv, 'port') ?? 28080),
    host: arg(argv, 'host') ?? '127.0.0.1',
    airflowVersion: arg(argv, 'airflow-version'),
    fabVersion: arg(argv, 'fab-version'),
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
