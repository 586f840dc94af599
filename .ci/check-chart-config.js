// Reads the config.yaml of every rendered ConfigMap named *-config and runs it through the service's own
// config loader (src/config/load.ts compiled by helm-check.sh into OUT), so the chart cannot render a
// config the service would refuse at start. Usage: node check-chart-config.js OUT rendered.yaml label
const fs = require('node:fs');
const path = require('node:path');
const [out, file, label] = process.argv.slice(2);
const YAML = require('yaml');
const { loadConfig } = require(path.join(out, 'src', 'config', 'load.js'));
let n = 0;
let failed = 0;
for (const doc of YAML.parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
  const obj = doc.toJS();
  if (!obj || obj.kind !== 'ConfigMap' || !obj.data?.['config.yaml']) continue;
  n++;
  const tmp = path.join(fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'chart-config-')), 'config.yaml');
  fs.writeFileSync(tmp, obj.data['config.yaml']);
  try {
    // the same env the chart sets (the password file is not read: no AIRFLOW_PASSWORD_FILE here)
    const c = loadConfig({ file: tmp, env: { PORT: '8080', METRICS_PORT: '9464', DATABASE_PATH: '/data/airflow-scim.db' } });
    console.log(`OK   ${label}: ConfigMap ${obj.metadata.name} config.yaml accepted by the loader (airflow.url=${c.airflow.url}, ${c.roles.mappings.length} mapping(s), deprovision=${c.deprovision})`);
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
