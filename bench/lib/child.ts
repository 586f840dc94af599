import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/** A benchmark server in its own process (fork + IPC), its stderr in a log file. */
export class ServerChild {
  private constructor(
    readonly proc: ChildProcess,
    readonly port: number,
  ) {}

  static start(script: string, env: Record<string, string>, logFile: string): Promise<ServerChild> {
    const log = fs.openSync(logFile, 'a');
    const proc = fork(script, [], { env: { ...process.env, ...env }, stdio: ['ignore', log, log, 'ipc'] });
    return new Promise((resolve, reject) => {
      proc.once('exit', (code) => reject(new Error(`${script} exited with ${code} before it was ready; see ${logFile}`)));
      proc.once('message', (m: { type: string; port: number }) => {
        if (m.type === 'ready') resolve(new ServerChild(proc, m.port));
      });
    });
  }

  /** Sends {type} and waits for the first answer of the same type. */
  ask<T extends { type: string }>(type: string): Promise<T> {
    return new Promise((resolve) => {
      const on = (m: T) => {
        if (m.type !== type) return;
        this.proc.off('message', on);
        resolve(m);
      };
      this.proc.on('message', on);
      this.proc.send({ type });
    });
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      this.proc.removeAllListeners('exit');
      this.proc.once('exit', () => resolve());
      this.proc.send({ type: 'stop' });
      setTimeout(() => this.proc.kill('SIGKILL'), 30_000).unref();
    });
  }
}
