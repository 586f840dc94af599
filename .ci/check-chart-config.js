// Reads the config.yaml of every rendered ConfigMap named *-config and runs it through the service's own
// config loader (src/config/load.ts compiled by helm-check.sh into OUT), so the chart cannot render a
// config the service would refuse at start. The environment is the one the chart gives the container (the
// Deployment's, else the CronJob's; in sidecar mode, whose container the Airflow chart defines, the chart's
// defaults): plain values as rendered, secretKeyRefs read from a Secret this chart rendered or, for a Secret of
// yours, a stand-in, and each *_FILE replaced by a stand-in value (the files are mounted only in the pod).
// Usage: node check-chart-config.js OUT rendered.yaml label
const fs = require('node:fs');
const path = require('node:path');
const [out, file, label] = process.argv.slice(2);
const YAML = require('yaml');
const { loadConfig } = require(path.join(out, 'src', 'config', 'load.js'));

const docs = YAML.parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean);
const secrets = new Map(docs.filter((o) => o.kind === 'Secret').map((o) => [o.metadata.name, o.stringData ?? {}]));
// Stand-ins for values the chart takes from Secrets it does not render (what a real Secret would hold).
const STAND_IN = {
  DATABASE_URL: 'postgres://scim:stand-in@postgres.invalid:5432/airflow_scim',
  SCIM_TOKEN: 'stand-in-scim-token-0123456789',
  AIRFLOW_USERNAME: 'scim-sync',
  AIRFLOW_JWT_USER_ID: '2',
  // *_FILE: the variable the file stands for
  ADMIN_TOKEN: 'stand-in-admin-token-0123456789abcdef',
  AIRFLOW_PASSWORD: 'stand-in-password',
  AIRFLOW_JWT_SECRET: 'stand-in-jwt-secret-0123456789',
};

function containerEnv() {
  const deployment = docs.find((o) => o.kind === 'Deployment');
  const cronJob = docs.find((o) => o.kind === 'CronJob');
  const pod = deployment?.spec.template.spec ?? cronJob?.spec.jobTemplate.spec.template.spec;
  if (!pod) return { env: { PORT: '8080', METRICS_PORT: '9464', DATABASE_PATH: '/data/airflow-scim.db' }, from: 'chart defaults (sidecar)' };
  const env = {};
  for (const e of pod.containers[0].env ?? []) {
    if (e.value !== undefined) {
      const m = /^(.*)_FILE$/.exec(e.name);
      if (m) env[m[1]] = STAND_IN[m[1]] ?? 'stand-in';
      else env[e.name] = String(e.value);
    } else if (e.valueFrom?.secretKeyRef) {
      const { name, key, optional } = e.valueFrom.secretKeyRef;
      const v = secrets.has(name) ? secrets.get(name)[key] : STAND_IN[e.name];
      if (v !== undefined && v !== '') env[e.name] = String(v);
      else if (!optional && !secrets.has(name)) throw new Error(`${e.name}: no stand-in for secretKeyRef ${name}/${key}`);
    }
  }
  return { env, from: `${deployment ? 'Deployment' : 'CronJob'} env` };
}

let n = 0;
let failed = 0;
for (const obj of docs) {
  if (obj.kind !== 'ConfigMap' || !obj.data?.['config.yaml']) continue;
  n++;
  const tmp = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'chart-config-')), 'config.yaml');
  fs.writeFileSync(tmp, obj.data['config.yaml']);
  try {
    const { env, from } = containerEnv();
    const c = loadConfig({ file: tmp, env });
    const db = c.database.url ? `PostgreSQL schema ${c.database.schema}` : `SQLite ${c.database.path}`;
    const admin = c.admin.port !== null ? `, admin port ${c.admin.port}` : '';
    console.log(
      `OK   ${label}: ConfigMap ${obj.metadata.name} config.yaml accepted by the loader with the ${from} (airflow.url=${c.airflow.url}, ${c.roles.mappings.length} mapping(s), deprovision=${c.deprovision}, ${db}${admin})`,
    );
  } catch (e) {
    failed++;
    console.log(`FAIL ${label}: ConfigMap ${obj.metadata.name} config.yaml rejected by the loader: ${e.message}`);
  }
}
if (!n) {
  console.log(`FAIL ${label}: no ConfigMap with config.yaml rendered`);
  failed++;
}
process.exit(failed ? 1 : 0);
