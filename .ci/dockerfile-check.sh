#!/usr/bin/env bash
# Lints the Dockerfile, then reproduces its build and run steps WITHOUT a container runtime:
#   1. lint (.ci/dockerfile.mjs lint): pinned FROMs, numeric non-root USER, HEALTHCHECK, exec-form
#      ENTRYPOINT/CMD, no ADD <url>, COPY --chown in the final stage, no secrets in ENV/ARG, ports, volume.
#   2. a clean copy of the sources (tracked + untracked-but-not-ignored files of the work tree, i.e. what
#      `docker build .` would send; --head uses `git archive HEAD` instead).
#   3. the "build" stage replayed in its own dir (its COPY lines, then its npm/node/rm RUN lines).
#   4. the "prod-deps" stage replayed in a second clean dir; better-sqlite3 comes from a local prebuild
#      (docs deps.md §4) kept in .tools/prebuilds, so it is compiled at most once per version+Node ABI.
#      No cached prebuild yet: it is seeded from the work tree's node_modules if that has the same version
#      and ABI, else compiled here and cached for next time. --compile forces a from-source build.
#   5. the "runtime" stage assembled (COPY --from the two dirs), started with the image's ENTRYPOINT+CMD,
#      DATABASE_PATH in a temp dir, free PORT/METRICS_PORT; waits for /healthz 200, runs the image's
#      HEALTHCHECK command, asks /readyz and /metrics, sends SIGTERM, expects exit 0 within the timeout.
# Prints PASS/FAIL lines; exits non-zero if anything failed. Usage: .ci/dockerfile-check.sh [--head] [--compile] [--keep]
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS=$ROOT/.tools
PREBUILDS=${PREBUILDS_DIR:-$TOOLS/prebuilds}
SOURCE=worktree COMPILE=0 KEEP=0
for a in "$@"; do
  case $a in
    --head) SOURCE=head ;;
    --compile) COMPILE=1 ;;
    --keep) KEEP=1 ;;
    *) echo "usage: $0 [--head] [--compile] [--keep]" >&2; exit 2 ;;
  esac
done
START_TIMEOUT=${START_TIMEOUT:-60}   # seconds to wait for /healthz
STOP_TIMEOUT=${STOP_TIMEOUT:-30}     # server.shutdownTimeout (25s) + margin

FAILS=0
T0=$(date +%s)
pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
step() { echo; echo "== $* ($(( $(date +%s) - T0 ))s)"; }
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dockerfile-check.XXXXXX")
SERVER_PID=
cleanup() {
  [ -n "$SERVER_PID" ] && kill -KILL "$SERVER_PID" 2>/dev/null
  if [ "$KEEP" = 1 ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
finish() {
  echo
  if [ "$FAILS" -eq 0 ]; then echo "PASS dockerfile-check: all steps ($(( $(date +%s) - T0 ))s)"; exit 0; fi
  echo "FAIL dockerfile-check: $FAILS step(s) failed ($(( $(date +%s) - T0 ))s)"; exit 1
}
DF="node $ROOT/.ci/dockerfile.mjs"

step "1. lint Dockerfile"
if $DF lint Dockerfile; then pass "dockerfile lint"; else fail "dockerfile lint"; fi
[ -f .dockerignore ] && pass ".dockerignore present" || fail ".dockerignore missing"

step "2. clean copy of the sources ($SOURCE)"
CTX=$WORK/context
mkdir -p "$CTX"
if [ "$SOURCE" = head ]; then
  git archive HEAD | tar -x -C "$CTX"
else
  # what `docker build .` sends, minus ignored files (node_modules, dist, data, .tools are all gitignored)
  git ls-files -z --cached --others --exclude-standard | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -x -C "$CTX"
fi
if [ -f "$CTX/package-lock.json" ] && [ -f "$CTX/package.json" ]; then
  pass "sources copied to $CTX ($(find "$CTX" -type f | wc -l) files)"
else
  fail "package.json/package-lock.json missing from the copy"; finish
fi

step "3. build stage: npm ci + npm run build (clean dir)"
BUILD=$WORK/build
BUILD_OK=0
if $DF reproduce build --context "$CTX" --root "$BUILD" Dockerfile; then
  pass "build stage"; BUILD_OK=1
else
  fail "build stage (continuing with prod-deps, which does not depend on it)"
fi

step "4. prod-deps stage: npm ci --omit=dev (second clean dir)"
BSQ_VERSION=$(node -p "require('$CTX/package-lock.json').packages['node_modules/better-sqlite3'].version")
ABI=$(node -p process.versions.modules)
TARBALL=better-sqlite3-v$BSQ_VERSION-node-v$ABI-$(node -p "process.platform + '-' + process.arch").tar.gz
mkdir -p "$PREBUILDS"
if [ "$COMPILE" = 0 ] && [ ! -f "$PREBUILDS/$TARBALL" ] && [ -f node_modules/better-sqlite3/build/Release/better_sqlite3.node ] \
   && [ "$(node -p "require('./node_modules/better-sqlite3/package.json').version")" = "$BSQ_VERSION" ]; then
  tar -C node_modules/better-sqlite3 -czf "$PREBUILDS/$TARBALL" build/Release/better_sqlite3.node \
    && echo "  seeded $PREBUILDS/$TARBALL from the work tree's node_modules (same version $BSQ_VERSION, ABI $ABI)"
fi
PROD=$WORK/prod
PROD_ENV=()
if [ "$COMPILE" = 0 ] && [ -f "$PREBUILDS/$TARBALL" ]; then
  echo "  using local prebuild $PREBUILDS/$TARBALL"
  PROD_ENV=(npm_config_better_sqlite3_local_prebuilds="$PREBUILDS")
else
  echo "  no local prebuild: better-sqlite3 compiles from source (~2 min on 2 cores)"
fi
t=$(date +%s)
if env "${PROD_ENV[@]}" $DF reproduce prod-deps --context "$CTX" --root "$PROD" Dockerfile; then
  NM=$PROD/src/node_modules
  if [ -d "$NM/better-sqlite3/build/Release/obj.target" ]; then how="compiled from source"; else how="from the local prebuild"; fi
  pass "prod-deps stage ($(( $(date +%s) - t ))s, better-sqlite3 $how)"
  if [ -d "$NM/typescript" ] || [ -d "$NM/jest" ]; then fail "dev dependencies present in prod node_modules"; else pass "no dev dependencies in prod node_modules"; fi
  if [ ! -f "$PREBUILDS/$TARBALL" ]; then
    tar -C "$NM/better-sqlite3" -czf "$PREBUILDS/$TARBALL" build/Release/better_sqlite3.node && echo "  cached $PREBUILDS/$TARBALL"
  fi
else
  fail "prod-deps stage"; finish
fi

step "5. runtime stage: assemble, start, /healthz, SIGTERM"
[ "$BUILD_OK" = 1 ] || { fail "runtime stage skipped: the build stage failed"; finish; }
RT=$WORK/rt
if $DF reproduce runtime --context "$CTX" --root "$RT" --stage-dir build="$BUILD" --stage-dir prod-deps="$PROD" Dockerfile; then
  pass "runtime stage assembled"
else
  fail "runtime stage"; finish
fi
INFO=$($DF entrypoint Dockerfile)
APP=$RT$(node -p "($INFO).workdir")
# the image's argv with its container paths (/app/...) mapped into the assembled dir
mapfile -t ARGV < <(node -e "const i=$INFO; for (const a of i.argv) console.log(a.startsWith('/') ? '$RT' + a : a)")
mapfile -t HC < <(node -e "const i=$INFO; for (const a of i.healthcheck ?? []) console.log(a)")
if [ ! -f "${ARGV[1]}" ]; then
  fail "entrypoint ${ARGV[1]#$RT} does not exist in the built dist (is the CLI written yet?)"; finish
fi
free_port() { node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"; }
PORT=$(free_port); METRICS_PORT=$(free_port)
while [ "$METRICS_PORT" = "$PORT" ]; do METRICS_PORT=$(free_port); done
mkdir -p "$WORK/data"
LOG=$WORK/serve.log
# The image's ENV, with the container paths and ports replaced by temp ones; no Airflow (SCIM only).
mapfile -t IMAGE_ENV < <(node -e "const i=$INFO; for (const [k,v] of Object.entries(i.env)) console.log(k+'='+v)")
(
  cd "$APP" && exec env -u AIRFLOW_URL -u AIRFLOW_SCIM_CONFIG "${IMAGE_ENV[@]}" \
    PORT="$PORT" METRICS_PORT="$METRICS_PORT" HOST=127.0.0.1 DATABASE_PATH="$WORK/data/airflow-scim.db" \
    SCIM_TOKEN=dockerfile-check-token-0123456789 "${ARGV[@]}"
) >"$LOG" 2>&1 &
SERVER_PID=$!
get() { node -e "require('http').get(process.argv[1],r=>{r.resume();console.log(r.statusCode)}).on('error',()=>console.log(0))" "$1"; }
deadline=$(( $(date +%s) + START_TIMEOUT )); code=0
while [ "$(date +%s)" -lt "$deadline" ]; do
  code=$(get "http://127.0.0.1:$PORT/healthz")
  [ "$code" = 200 ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || break
  sleep 0.3
done
if [ "$code" = 200 ]; then
  pass "serve answered /healthz 200 on :$PORT ($(( START_TIMEOUT - deadline + $(date +%s) ))s after start)"
  if [ ${#HC[@]} -gt 0 ] && (cd "$APP" && PORT=$PORT "${HC[@]}"); then pass "the image's HEALTHCHECK command exits 0"; else fail "the image's HEALTHCHECK command"; fi
  rz=$(get "http://127.0.0.1:$PORT/readyz"); echo "  /readyz -> $rz (no Airflow configured)"
  [ "$rz" = 200 ] || [ "$rz" = 503 ] && pass "/readyz answers ($rz)" || fail "/readyz answered $rz"
  mc=$(get "http://127.0.0.1:$METRICS_PORT/metrics")
  [ "$mc" = 200 ] && pass "/metrics 200 on METRICS_PORT :$METRICS_PORT" || fail "/metrics on METRICS_PORT :$METRICS_PORT answered $mc"
  [ -f "$WORK/data/airflow-scim.db" ] && pass "database created at DATABASE_PATH" || fail "no database file at DATABASE_PATH"
  t=$(date +%s)
  kill -TERM "$SERVER_PID"
  deadline=$(( t + STOP_TIMEOUT ))
  while kill -0 "$SERVER_PID" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.2; done
  if kill -0 "$SERVER_PID" 2>/dev/null; then
    fail "still running ${STOP_TIMEOUT}s after SIGTERM"
  else
    wait "$SERVER_PID"; rc=$?; SERVER_PID=
    [ "$rc" = 0 ] && pass "exited 0 after SIGTERM ($(( $(date +%s) - t ))s)" || fail "exit code $rc after SIGTERM"
  fi
else
  if kill -0 "$SERVER_PID" 2>/dev/null; then fail "no /healthz 200 within ${START_TIMEOUT}s (last: $code)"
  else wait "$SERVER_PID"; fail "serve exited with $? before /healthz answered"; SERVER_PID=; fi
fi
echo "  --- serve log (last 25 lines) ---"; tail -n 25 "$LOG" | sed 's/^/  | /'
finish
