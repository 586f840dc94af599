#!/usr/bin/env node
// What each helm/ci values file must render, as data: per values file, a list of [what, check(manifests)].
// A check returns true, or a string saying what it found instead. Run by .ci/helm-check.sh after `helm template`
// wrote OUT/<values-name>.yaml. Prints one PASS/FAIL line per expectation; exits 1 if any failed.
// Usage: node check-chart-expectations.mjs OUT  (loads yaml from .tools/node_modules, like validate-manifests.mjs)
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const modulesDir = process.env.TOOLS_MODULES ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '.tools', 'node_modules');
const { parseAllDocuments } = createRequire(path.join(modulesDir, 'noop.js'))('yaml');

const out = process.argv[2];

// Helpers over the rendered documents of one values file.
const ofKind = (m, kind) => m.filter((o) => o.kind === kind);
const one = (m, kind) => ofKind(m, kind)[0];
const pod = (m) => one(m, 'Deployment')?.spec.template.spec;
const envOf = (spec, name) => (spec?.containers?.[0]?.env ?? []).find((e) => e.name === name);
const has = (cond, found) => (cond ? true : found);
const none = (m, kind) => has(!ofKind(m, kind).length, `${ofKind(m, kind).length} ${kind}(s)`);
const secretRef = (spec, name, secret, key) => {
  const ref = envOf(spec, name)?.valueFrom?.secretKeyRef;
  return has(ref?.name === secret && ref?.key === key, `env ${name}: ${JSON.stringify(envOf(spec, name) ?? null)}`);
};
const noDataVolume = (spec) => has(!(spec?.volumes ?? []).some((v) => v.name === 'data' || v.persistentVolumeClaim), `volumes ${(spec?.volumes ?? []).map((v) => v.name)}`);
const policyPorts = (m) => (one(m, 'NetworkPolicy')?.spec.ingress ?? []).map((r) => ({ from: r.from, ports: (r.ports ?? []).map((p) => p.port) }));

const EXPECT = {
  'default-values': [
    ['SQLite: DATABASE_PATH=/data/airflow-scim.db, no DATABASE_URL', (m) => has(envOf(pod(m), 'DATABASE_PATH')?.value === '/data/airflow-scim.db' && !envOf(pod(m), 'DATABASE_URL'), 'other database env')],
    ['SQLite: 1 replica, Recreate, the PVC mounted at /data', (m) => {
      const d = one(m, 'Deployment').spec;
      return has(d.replicas === 1 && d.strategy.type === 'Recreate' && d.template.spec.volumes.some((v) => v.persistentVolumeClaim?.claimName === 'airflow-scim-sync-data'), JSON.stringify({ replicas: d.replicas, strategy: d.strategy }));
    }],
    ['SQLite: the CronJob keeps the podAffinity to the service pod', (m) => has(!!one(m, 'CronJob')?.spec.jobTemplate.spec.template.spec.affinity?.podAffinity, 'no podAffinity')],
    ['admin API off by default: no ADMIN_PORT, no admin port', (m) => has(!envOf(pod(m), 'ADMIN_PORT') && !one(m, 'Service').spec.ports.some((p) => p.name === 'admin'), 'admin rendered')],
  ],
  'postgres-url-values': [
    ['PostgreSQL via url: no PersistentVolumeClaim (although persistence.enabled)', (m) => none(m, 'PersistentVolumeClaim')],
    ['PostgreSQL via url: replicas 3', (m) => has(one(m, 'Deployment').spec.replicas === 3, `replicas ${one(m, 'Deployment').spec.replicas}`)],
    ['PostgreSQL via url: strategy RollingUpdate (maxUnavailable 0)', (m) => {
      const s = one(m, 'Deployment').spec.strategy;
      return has(s.type === 'RollingUpdate' && s.rollingUpdate?.maxUnavailable === 0, JSON.stringify(s));
    }],
    ['PostgreSQL via url: env DATABASE_URL from the rendered Secret airflow-scim-sync-database, no DATABASE_PATH', (m) =>
      has(secretRef(pod(m), 'DATABASE_URL', 'airflow-scim-sync-database', 'DATABASE_URL') === true && !envOf(pod(m), 'DATABASE_PATH'), secretRef(pod(m), 'DATABASE_URL', 'airflow-scim-sync-database', 'DATABASE_URL'))],
    ['PostgreSQL via url: the Secret holds the URL, and the password is nowhere else', (m) => {
      const s = ofKind(m, 'Secret').find((o) => o.metadata.name === 'airflow-scim-sync-database');
      const elsewhere = m.filter((o) => o !== s && JSON.stringify(o).includes('postgres://scim:ci-password@')).map((o) => `${o.kind}/${o.metadata.name}`);
      return has(s?.stringData?.DATABASE_URL?.startsWith('postgres://scim:ci-password@') && !elsewhere.length, `secret ${!!s}, URL also in ${elsewhere}`);
    }],
    ['PostgreSQL via url: a checksum annotation restarts the pods when the URL changes', (m) => has(!!one(m, 'Deployment').spec.template.metadata.annotations['checksum/database'], 'no checksum/database')],
    ['PostgreSQL via url: DATABASE_SCHEMA airflow_scim', (m) => has(envOf(pod(m), 'DATABASE_SCHEMA')?.value === 'airflow_scim', JSON.stringify(envOf(pod(m), 'DATABASE_SCHEMA')))],
    ['PostgreSQL via url: no data volume in the Deployment or the CronJob', (m) => {
      const r = noDataVolume(pod(m));
      return r === true ? noDataVolume(one(m, 'CronJob').spec.jobTemplate.spec.template.spec) : r;
    }],
    ['PostgreSQL via url: the CronJob has no SQLite podAffinity and gets DATABASE_URL', (m) => {
      const spec = one(m, 'CronJob').spec.jobTemplate.spec.template.spec;
      return has(!spec.affinity && !!envOf(spec, 'DATABASE_URL'), JSON.stringify(spec.affinity ?? null));
    }],
  ],
  'postgres-secret-values': [
    ['PostgreSQL via existingSecret: env DATABASE_URL from secretKeyRef airflow-scim-db/url', (m) => secretRef(pod(m), 'DATABASE_URL', 'airflow-scim-db', 'url')],
    ['PostgreSQL via existingSecret: no Secret rendered for the database, no PVC', (m) => {
      const s = ofKind(m, 'Secret').map((o) => o.metadata.name);
      return has(!s.includes('airflow-scim-sync-database') && !ofKind(m, 'PersistentVolumeClaim').length, `Secrets [${s}], ${ofKind(m, 'PersistentVolumeClaim').length} PVC(s)`);
    }],
    ['PostgreSQL via existingSecret: replicas 2, RollingUpdate, DATABASE_SCHEMA scim_prod', (m) => {
      const d = one(m, 'Deployment').spec;
      return has(d.replicas === 2 && d.strategy.type === 'RollingUpdate' && envOf(pod(m), 'DATABASE_SCHEMA')?.value === 'scim_prod', JSON.stringify({ replicas: d.replicas, strategy: d.strategy.type }));
    }],
  ],
  'sidecar-values': [
    ['sidecar with SQLite: the PVC is rendered', (m) => has(ofKind(m, 'PersistentVolumeClaim').length === 1, 'no PVC')],
  ],
  'sidecar-postgres-values': [
    ['sidecar with PostgreSQL: no Deployment, no PVC', (m) => has(!ofKind(m, 'Deployment').length && !ofKind(m, 'PersistentVolumeClaim').length, m.map((o) => o.kind).join(' '))],
    ['sidecar with PostgreSQL: the Service selects every Airflow API-server pod (component: api-server) on 8081', (m) => {
      const s = one(m, 'Service').spec;
      return has(s.selector.component === 'api-server' && s.ports.some((p) => p.name === 'scim' && p.targetPort === 8081), JSON.stringify(s.selector));
    }],
    ['sidecar with PostgreSQL: the config talks to Airflow on http://localhost:8080', (m) => has(one(m, 'ConfigMap').data['config.yaml'].includes('url: http://localhost:8080'), 'other airflow.url')],
  ],
  'admin-values': [
    ['admin: ADMIN_PORT 9465 and ADMIN_TOKEN_FILE from the Secret airflow-scim-admin (key token)', (m) => {
      const spec = pod(m);
      const vol = spec.volumes.find((v) => v.name === 'admin-token');
      const mount = spec.containers[0].volumeMounts.find((v) => v.name === 'admin-token');
      const file = envOf(spec, 'ADMIN_TOKEN_FILE')?.value;
      return has(
        envOf(spec, 'ADMIN_PORT')?.value === '9465' && vol?.secret.secretName === 'airflow-scim-admin' && vol.secret.items[0].key === 'token' && file === `${mount?.mountPath}/${vol.secret.items[0].path}`,
        JSON.stringify({ file, vol, mount }),
      );
    }],
    ['admin: container port "admin" 9465 and the Service port admin -> 9465', (m) => {
      const port = pod(m).containers[0].ports.find((p) => p.name === 'admin');
      const svc = one(m, 'Service').spec.ports.find((p) => p.name === 'admin');
      return has(port?.containerPort === 9465 && svc?.port === 9465 && svc.targetPort === 9465, JSON.stringify({ port, svc }));
    }],
    ['admin: the NetworkPolicy opens the admin port only to networkPolicy.extraAdminFrom', (m) => {
      const rules = policyPorts(m).filter((r) => r.ports.includes(9465));
      return has(rules.length === 1 && rules[0].from?.[0]?.namespaceSelector?.matchLabels?.['kubernetes.io/metadata.name'] === 'compliance', JSON.stringify(rules));
    }],
  ],
};

let failures = 0;
for (const [name, checks] of Object.entries(EXPECT)) {
  const file = path.join(out, `${name}.yaml`);
  if (!fs.existsSync(file)) {
    console.log(`FAIL ${name}: not rendered (${file})`);
    failures++;
    continue;
  }
  const m = parseAllDocuments(fs.readFileSync(file, 'utf8')).map((d) => d.toJS()).filter(Boolean);
  for (const [what, check] of checks) {
    let r;
    try {
      r = check(m);
    } catch (e) {
      r = `${e.name}: ${e.message}`;
    }
    if (r === true) console.log(`PASS ${what}`);
    else {
      console.log(`FAIL ${what}: found ${r}`);
      failures++;
    }
  }
}
process.exit(failures ? 1 : 0);
