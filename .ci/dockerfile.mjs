#!/usr/bin/env node
// Dockerfile helper for .ci/dockerfile-check.sh. No dependencies (Node 20 built-ins only).
//
//   node .ci/dockerfile.mjs lint [Dockerfile]
//       Checks the rules below; prints PASS/FAIL/WARN lines; exit 1 on any FAIL.
//   node .ci/dockerfile.mjs reproduce <stage> --context DIR --root DIR [--stage-dir name=DIR ...] [Dockerfile]
//       Replays one stage outside a container: COPY from the context (or --from another stage's dir) into
//       DIR/<WORKDIR>, applies the stage's ENV, and runs its RUN lines that are npm/node/rm commands (system
//       setup such as apt-get/useradd is printed as SKIP). Exit 1 if a command fails.
//   node .ci/dockerfile.mjs entrypoint [Dockerfile]
//       Prints the final stage's ENTRYPOINT+CMD, HEALTHCHECK and ENV as JSON.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';

/** Parses a Dockerfile into stages of {instr, args, flags, line}. Handles `\` continuations and comments. */
export function parseDockerfile(text) {
  const lines = text.split(/\r?\n/);
  const instructions = [];
  let buf = '';
  let start = 0;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (!buf && (trimmed === '' || trimmed.startsWith('#'))) continue;
    if (buf && trimmed.startsWith('#')) continue; // comment lines inside a continuation are dropped by Docker
    if (!buf) start = i + 1;
    if (/\\\s*$/.test(raw)) {
      buf += raw.replace(/\\\s*$/, '') + ' ';
      continue;
    }
    buf += raw;
    const m = buf.trim().match(/^(\S+)\s*(.*)$/s);
    instructions.push({ instr: m[1].toUpperCase(), rest: m[2].trim(), line: start });
    buf = '';
  }
  const stages = [];
  const globalArgs = [];
  for (const ins of instructions) {
    // leading --flags (FROM --platform, COPY --from/--chown, RUN --mount)
    const flags = {};
    let rest = ins.rest;
    for (;;) {
      const f = rest.match(/^--([a-z-]+)(?:=(\S+))?\s*/);
      if (!f) break;
      (flags[f[1]] ??= []).push(f[2] ?? 'true');
      rest = rest.slice(f[0].length);
    }
    const entry = { ...ins, flags, args: rest };
    if (ins.instr === 'FROM') {
      const m = rest.match(/^(\S+)(?:\s+AS\s+(\S+))?\s*$/i);
      stages.push({ image: m?.[1] ?? rest, name: m?.[2] ?? String(stages.length), line: ins.line, flags, items: [] });
    } else if (!stages.length) {
      globalArgs.push(entry);
    } else {
      stages[stages.length - 1].items.push(entry);
    }
  }
  return { stages, globalArgs };
}

/** Exec form: a JSON array of strings. */
function execForm(args) {
  if (!args.trim().startsWith('[')) return null;
  try {
    const v = JSON.parse(args);
    return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : null;
  } catch {
    return null;
  }
}

/** ENV key=value pairs (both `ENV a=b c=d` and legacy `ENV a b`). Quotes removed. */
function envPairs(args) {
  const out = [];
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|'[^']*'|\S*)/g;
  if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(args)) {
    const m = args.match(/^(\S+)\s+(.*)$/);
    if (m) out.push([m[1], m[2]]);
    return out;
  }
  for (const m of args.matchAll(re)) out.push([m[1], m[2].replace(/^["']|["']$/g, '')]);
  return out;
}

const SECRET_KEY = /(PASSWORD|PASSWD|SECRET|TOKEN|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH)/i;

export function lint(text) {
  const results = [];
  const pass = (m) => results.push(['PASS', m]);
  const fail = (m) => results.push(['FAIL', m]);
  const warn = (m) => results.push(['WARN', m]);
  const { stages } = parseDockerfile(text);
  if (!stages.length) {
    fail('no FROM instruction');
    return results;
  }
  const names = new Set();
  for (const s of stages) {
    const where = `FROM ${s.image} (line ${s.line})`;
    if (names.has(s.image.toLowerCase())) {
      pass(`${where}: builds on stage "${s.image}"`);
    } else if (s.image.includes('$')) {
      fail(`${where}: image from a build ARG cannot be checked; pin it literally`);
    } else {
      const [ref, digest] = s.image.split('@');
      const lastColon = ref.lastIndexOf(':');
      const tag = lastColon > ref.lastIndexOf('/') ? ref.slice(lastColon + 1) : null;
      if (digest && !/^sha256:[0-9a-f]{64}$/.test(digest)) fail(`${where}: malformed digest`);
      else if (!tag && !digest) fail(`${where}: no tag or digest (means :latest)`);
      else if (tag === 'latest') fail(`${where}: :latest is not a pin`);
      else if (tag && !/\d+\.\d+/.test(tag) && !digest) fail(`${where}: tag "${tag}" floats; pin at least major.minor`);
      else {
        pass(`${where}: pinned${digest ? ' by digest' : ` by tag ${tag}`}`);
        if (!digest) warn(`${where}: no @sha256 digest (tag pin only)`);
      }
    }
    names.add(s.name.toLowerCase());
  }
  const stageNames = stages.map((s) => s.name);
  for (const want of ['build', 'prod-deps']) {
    if (stageNames.includes(want)) pass(`stage "${want}" present`);
    else fail(`stage "${want}" missing (multi-stage: build, prod-deps, runtime)`);
  }

  const final = stages[stages.length - 1];
  const finalItems = (i) => final.items.filter((x) => x.instr === i);
  const users = finalItems('USER');
  const user = users.at(-1)?.args;
  if (!user) fail('final stage has no USER (runs as root)');
  else if (!/^\d+(:\d+)?$/.test(user)) fail(`final USER "${user}" is not numeric uid[:gid] (runAsNonRoot cannot verify names)`);
  else if (user.split(':')[0] === '0') fail('final USER is root (uid 0)');
  else pass(`final USER ${user} is numeric and non-root`);

  const hc = finalItems('HEALTHCHECK').at(-1);
  if (!hc) fail('no HEALTHCHECK in the final stage');
  else if (/^NONE\b/i.test(hc.args)) fail('HEALTHCHECK NONE');
  else {
    const cmd = hc.args.replace(/^CMD\s+/i, '');
    const exec = execForm(cmd);
    if (!exec) fail(`HEALTHCHECK (line ${hc.line}) is not in exec form`);
    else if (!/healthz/.test(cmd)) fail('HEALTHCHECK does not ask /healthz');
    else pass(`HEALTHCHECK present, exec form, asks /healthz (${exec[0]})`);
    if (/\bcurl\b|\bwget\b/.test(cmd)) fail('HEALTHCHECK uses curl/wget, which the slim image does not have');
  }

  for (const instr of ['ENTRYPOINT', 'CMD']) {
    const it = finalItems(instr).at(-1);
    if (!it) fail(`no ${instr} in the final stage`);
    else if (!execForm(it.args)) fail(`${instr} (line ${it.line}) is not exec form (JSON array): signals would go to /bin/sh`);
    else pass(`${instr} is exec form: ${it.args}`);
  }

  let addOk = true;
  for (const s of stages)
    for (const it of s.items.filter((x) => x.instr === 'ADD')) {
      if (/(^|\s)(https?|git|ssh):\/\//i.test(it.args) || /\.git(\s|$)/.test(it.args)) {
        fail(`ADD from a URL (line ${it.line}): download with a checksum in RUN, or COPY`);
        addOk = false;
      } else warn(`ADD (line ${it.line}): prefer COPY unless you need tar extraction`);
    }
  if (addOk) pass('no ADD from a URL');

  // COPY --chown: in the final stage every COPY states its owner; anything copied into a VOLUME is owned by the USER.
  const volumes = finalItems('VOLUME').flatMap((v) => execForm(v.args) ?? v.args.split(/\s+/));
  let chownOk = true;
  const uid = user?.split(':')[0];
  for (const it of finalItems('COPY')) {
    const chown = it.flags.chown?.[0];
    const parts = it.args.split(/\s+/);
    const dest = parts.at(-1);
    if (!chown) {
      fail(`COPY (line ${it.line}) in the final stage has no --chown (ownership left implicit)`);
      chownOk = false;
    } else if (volumes.some((v) => dest.startsWith(v)) && uid && chown.split(':')[0] !== uid) {
      fail(`COPY (line ${it.line}) into volume ${dest} is owned by ${chown}, not the runtime user ${uid}`);
      chownOk = false;
    }
  }
  if (chownOk) pass('every COPY in the final stage sets --chown');

  let secretsOk = true;
  for (const s of stages)
    for (const it of s.items.filter((x) => x.instr === 'ENV' || x.instr === 'ARG')) {
      const pairs = it.instr === 'ENV' ? envPairs(it.args) : [[it.args.split('=')[0], it.args.split('=').slice(1).join('=')]];
      for (const [k, v] of pairs) {
        if (SECRET_KEY.test(k) && v !== '' && !/_FILE$/.test(k)) {
          fail(`${it.instr} ${k} (line ${it.line}) bakes a secret-looking value into the image`);
          secretsOk = false;
        }
      }
      if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(it.args)) {
        fail(`${it.instr} (line ${it.line}) contains a private key`);
        secretsOk = false;
      }
    }
  if (secretsOk) pass('no secrets in ENV/ARG');

  // Project-specific expectations.
  const env = Object.fromEntries(finalItems('ENV').flatMap((e) => envPairs(e.args)));
  if (env.NODE_ENV === 'production') pass('ENV NODE_ENV=production');
  else fail('final stage lacks ENV NODE_ENV=production');
  if (env.DATABASE_PATH && volumes.some((v) => env.DATABASE_PATH.startsWith(v.replace(/\/?$/, '/'))))
    pass(`DATABASE_PATH ${env.DATABASE_PATH} is on VOLUME ${volumes.join(' ')}`);
  else fail(`DATABASE_PATH (${env.DATABASE_PATH ?? 'unset'}) is not on a declared VOLUME (${volumes.join(' ') || 'none'})`);
  const exposed = finalItems('EXPOSE').flatMap((e) => e.args.split(/\s+/)).map((p) => p.split('/')[0]);
  for (const p of ['8080', '9464']) (exposed.includes(p) ? pass : fail)(`EXPOSE ${p}`);
  for (const s of stages)
    for (const it of s.items.filter((x) => x.instr === 'RUN' && /apt-get install/.test(x.args))) {
      if (!/--no-install-recommends/.test(it.args)) warn(`apt-get install without --no-install-recommends (line ${it.line})`);
      if (!/rm -rf \/var\/lib\/apt\/lists/.test(it.args)) warn(`apt lists not removed (line ${it.line})`);
    }
  return results;
}

function cmdLint(file) {
  const results = lint(fs.readFileSync(file, 'utf8'));
  for (const [k, m] of results) console.log(`${k} dockerfile-lint: ${m}`);
  return results.some(([k]) => k === 'FAIL') ? 1 : 0;
}

/** Replays one stage: COPY + ENV + the npm/node/rm RUN lines. */
function cmdReproduce(file, stageName, opts) {
  const { stages } = parseDockerfile(fs.readFileSync(file, 'utf8'));
  const stage = stages.find((s) => s.name === stageName);
  if (!stage) throw new Error(`no stage ${stageName}`);
  const root = path.resolve(opts.root); // plays the role of the container's /
  const map = (p) => path.join(root, p); // container path -> host path
  let workdir = '/';
  const env = { ...process.env };
  for (const it of stage.items) {
    if (it.instr === 'WORKDIR') {
      workdir = path.posix.resolve(workdir, it.args);
      fs.mkdirSync(map(workdir), { recursive: true });
    } else if (it.instr === 'ENV') {
      for (const [k, v] of envPairs(it.args)) env[k] = v;
    } else if (it.instr === 'COPY') {
      const parts = execForm(it.args) ?? it.args.split(/\s+/);
      const dest = path.posix.resolve(workdir, parts.at(-1));
      const from = it.flags.from?.[0];
      const srcRoot = from ? opts.stageDirs[from] : opts.context;
      if (!srcRoot) throw new Error(`COPY --from=${from}: no --stage-dir ${from}=DIR given`);
      for (const src of parts.slice(0, -1)) {
        const s = from ? path.join(srcRoot, src) : path.join(srcRoot, src);
        if (!fs.existsSync(s)) {
          console.log(`FAIL reproduce ${stageName}: COPY source ${src} missing (line ${it.line})`);
          return 1;
        }
        const isDirDest = parts.length > 2 || parts.at(-1).endsWith('/') || parts.at(-1) === '.' || parts.at(-1) === './';
        const target = fs.statSync(s).isDirectory() ? map(dest) : isDirDest ? path.join(map(dest), path.basename(src)) : map(dest);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.cpSync(s, target, { recursive: true, verbatimSymlinks: true });
      }
      console.log(`  COPY ${it.flags.from ? `--from=${from} ` : ''}${parts.slice(0, -1).join(' ')} -> ${dest}`);
    } else if (it.instr === 'RUN') {
      const cmd = it.args;
      if (!/^(npm|node|rm)\s/.test(cmd)) {
        console.log(`  SKIP (system setup) RUN ${cmd.slice(0, 90)}${cmd.length > 90 ? '...' : ''}`);
        continue;
      }
      if (/(^|\s)\/(?!dev\/null)/.test(cmd.replace(/'[^']*'|"[^"]*"/g, ''))) {
        console.log(`FAIL reproduce ${stageName}: RUN uses an absolute path, cannot replay safely: ${cmd}`);
        return 1;
      }
      const t0 = Date.now();
      console.log(`  RUN ${cmd}`);
      const r = spawnSync('bash', ['-c', cmd], { cwd: map(workdir), env, stdio: 'inherit' });
      const secs = ((Date.now() - t0) / 1000).toFixed(1);
      if (r.status !== 0) {
        console.log(`FAIL reproduce ${stageName}: "${cmd}" exited ${r.status ?? r.signal} after ${secs}s`);
        return 1;
      }
      console.log(`  ok ${secs}s`);
    }
  }
  return 0;
}

function cmdEntrypoint(file) {
  const { stages } = parseDockerfile(fs.readFileSync(file, 'utf8'));
  const final = stages.at(-1);
  const last = (i) => final.items.filter((x) => x.instr === i).at(-1);
  const env = Object.fromEntries(final.items.filter((x) => x.instr === 'ENV').flatMap((e) => envPairs(e.args)));
  const wd = final.items.filter((x) => x.instr === 'WORKDIR').at(-1)?.args ?? '/';
  const hc = last('HEALTHCHECK')?.args.replace(/^(--\S+\s+)*CMD\s+/i, '');
  console.log(
    JSON.stringify({
      workdir: wd,
      argv: [...(execForm(last('ENTRYPOINT')?.args ?? '[]') ?? []), ...(execForm(last('CMD')?.args ?? '[]') ?? [])],
      healthcheck: hc ? execForm(hc) : null,
      env,
    }),
  );
  return 0;
}

const [cmd, ...rest] = process.argv.slice(2);
const opts = { stageDirs: {} };
const positional = [];
for (let i = 0; i < rest.length; i++) {
  if (rest[i] === '--context') opts.context = rest[++i];
  else if (rest[i] === '--root') opts.root = rest[++i];
  else if (rest[i] === '--stage-dir') {
    const [k, v] = rest[++i].split('=');
    opts.stageDirs[k] = v;
  } else positional.push(rest[i]);
}
let code;
if (cmd === 'lint') code = cmdLint(positional[0] ?? 'Dockerfile');
else if (cmd === 'reproduce') code = cmdReproduce(positional[1] ?? 'Dockerfile', positional[0], opts);
else if (cmd === 'entrypoint') code = cmdEntrypoint(positional[0] ?? 'Dockerfile');
else {
  console.error('usage: dockerfile.mjs lint|reproduce|entrypoint ...');
  code = 2;
}
process.exit(code);
