#!/usr/bin/env node
// Offline validation of rendered manifests (docs/deps.md appendix B): each document is checked against the
// kubernetes-models schema of its apiVersion/kind. kubernetes-models does not flag unknown fields, so a few
// structural and policy checks are added here. monitoring.coreos.com/v1 ServiceMonitor is a known CRD with a
// minimal structural check. Usage: node validate-manifests.mjs rendered.yaml [label]
// Loads kubernetes-models and yaml from .tools/node_modules (installed by .ci/helm-check.sh).
import fs from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

// The packages live in TOOLS_MODULES (.tools/node_modules), not in the project's node_modules.
const modulesDir = process.env.TOOLS_MODULES ?? path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '.tools', 'node_modules');
async function load(name) {
  const dir = path.join(modulesDir, name);
  const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8'));
  const dot = pkg.exports?.['.'] ?? pkg.main ?? 'index.js';
  const entry = typeof dot === 'string' ? dot : dot.import ?? dot.node ?? dot.default;
  return import(pathToFileURL(path.join(dir, entry)).href);
}
const { parseAllDocuments } = await load('yaml');
const models = await load('kubernetes-models');

const registry = new Map();
const walk = (o, d = 0) => {
  for (const v of Object.values(o)) {
    if (typeof v === 'function' && v.apiVersion && v.kind) registry.set(`${v.apiVersion}/${v.kind}`, v);
    else if (v && typeof v === 'object' && d < 3) walk(v, d + 1);
  }
};
walk(models);

const file = process.argv[2];
const label = process.argv[3] ?? file;
const problems = [];
const known = (obj, allowed, where) => {
  for (const k of Object.keys(obj ?? {})) if (!allowed.includes(k)) problems.push(`${where}: unknown field "${k}"`);
};

/** Policy for every pod template: the hardening the chart promises. */
function checkPod(spec, where) {
  const psc = spec.securityContext ?? {};
  if (psc.runAsNonRoot !== true) problems.push(`${where}: pod securityContext.runAsNonRoot is not true`);
  if (psc.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${where}: pod seccompProfile is not RuntimeDefault`);
  for (const c of spec.containers ?? []) {
    const sc = c.securityContext ?? {};
    const w = `${where} container ${c.name}`;
    if (sc.readOnlyRootFilesystem !== true) problems.push(`${w}: readOnlyRootFilesystem is not true`);
    if (sc.allowPrivilegeEscalation !== false) problems.push(`${w}: allowPrivilegeEscalation is not false`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) problems.push(`${w}: capabilities do not drop ALL`);
    if (!(sc.runAsUser > 0)) problems.push(`${w}: runAsUser is not a non-root uid`);
    if (/:latest$|^[^:@]+$/.test(c.image)) problems.push(`${w}: image ${c.image} is not pinned`);
    // kubernetes-models accepts unknown fields: catch the typos that matter in containers
    known(c, ['name', 'image', 'imagePullPolicy', 'args', 'command', 'env', 'envFrom', 'ports', 'livenessProbe', 'readinessProbe', 'startupProbe', 'resources', 'securityContext', 'volumeMounts', 'workingDir', 'lifecycle'], w);
    const mounts = new Set((spec.volumes ?? []).map((v) => v.name));
    for (const m of c.volumeMounts ?? []) if (!mounts.has(m.name)) problems.push(`${w}: volumeMount ${m.name} has no volume`);
  }
}

let failures = 0;
let count = 0;
for (const doc of parseAllDocuments(fs.readFileSync(file, 'utf8'))) {
  if (doc.errors.length) {
    console.log(`FAIL ${label}: YAML error: ${doc.errors[0].message}`);
    failures++;
    continue;
  }
  const obj = doc.toJS();
  if (!obj) continue;
  count++;
  const id = `${obj.kind}/${obj.metadata?.name}`;
  const before = problems.length;
  if (obj.apiVersion === 'monitoring.coreos.com/v1' && obj.kind === 'ServiceMonitor') {
    // known CRD: minimal structural check
    const s = obj.spec;
    if (!obj.metadata?.name) problems.push(`${id}: metadata.name missing`);
    if (!s?.selector || typeof s.selector !== 'object') problems.push(`${id}: spec.selector missing`);
    if (!Array.isArray(s?.endpoints) || !s.endpoints.length) problems.push(`${id}: spec.endpoints missing`);
    for (const e of s?.endpoints ?? []) {
      known(e, ['port', 'targetPort', 'path', 'interval', 'scrapeTimeout', 'scheme', 'tlsConfig', 'relabelings', 'metricRelabelings', 'honorLabels'], `${id} endpoint`);
      if (!e.port && !e.targetPort) problems.push(`${id}: endpoint without port`);
      for (const k of ['interval', 'scrapeTimeout']) if (e[k] && !/^(\d+(ms|s|m|h))+$/.test(e[k])) problems.push(`${id}: endpoint ${k} "${e[k]}" is not a duration`);
    }
  } else {
    const Cls = registry.get(`${obj.apiVersion}/${obj.kind}`);
    if (!Cls) {
      problems.push(`${id}: unknown apiVersion/kind ${obj.apiVersion}/${obj.kind}`);
    } else {
      try {
        new Cls(obj).validate();
      } catch (e) {
        problems.push(`${id}: ${e.message}`);
      }
    }
  }
  if (obj.kind === 'Deployment') {
    // SQLite (DATABASE_PATH): one writer, so 1 replica and Recreate. PostgreSQL (DATABASE_URL): any, RollingUpdate.
    const env = new Set((obj.spec.template.spec.containers ?? []).flatMap((c) => (c.env ?? []).map((e) => e.name)));
    if (env.has('DATABASE_URL') === env.has('DATABASE_PATH')) problems.push(`${id}: needs exactly one of DATABASE_URL and DATABASE_PATH`);
    if (env.has('DATABASE_URL')) {
      if (obj.spec.strategy?.type !== 'RollingUpdate') problems.push(`${id}: strategy must be RollingUpdate with PostgreSQL`);
      if ((obj.spec.template.spec.volumes ?? []).some((v) => v.persistentVolumeClaim)) problems.push(`${id}: mounts a PVC although the store is PostgreSQL`);
    } else {
      if (obj.spec.replicas !== 1) problems.push(`${id}: replicas must be 1 (SQLite has one writer)`);
      if (obj.spec.strategy?.type !== 'Recreate') problems.push(`${id}: strategy must be Recreate (SQLite has one writer)`);
    }
    checkPod(obj.spec.template.spec, id);
  }
  if (obj.kind === 'CronJob') checkPod(obj.spec.jobTemplate.spec.template.spec, id);
  if (obj.kind === 'Service' || obj.kind === 'Ingress' || obj.kind === 'NetworkPolicy') known(obj.spec, Object.keys(obj.spec), id);
  if (problems.length > before) {
    failures++;
    for (const p of problems.slice(before)) console.log(`FAIL ${label}: ${p}`);
  } else {
    console.log(`OK   ${label}: ${obj.apiVersion} ${id}`);
  }
}
if (!count) {
  console.log(`FAIL ${label}: no documents rendered`);
  failures++;
}
process.exit(failures ? 1 : 0);
