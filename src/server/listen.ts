import type http from 'node:http';

/** A port we could not listen on, named with the variable that sets it (PORT or METRICS_PORT). */
export class ListenError extends Error {
  constructor(
    readonly port: number,
    readonly host: string,
    readonly variable: string,
    readonly code: string | undefined,
  ) {
    super(
      code === 'EADDRINUSE'
        ? `port ${port} on ${host} is already in use (set by ${variable}): stop the other process or choose another port with ${variable}=…`
        : code === 'EACCES'
          ? `port ${port} on ${host} needs privileges this process lacks (set by ${variable}): use a port above 1023`
          : `cannot listen on ${host}:${port} (set by ${variable}): ${code ?? 'unknown error'}`,
    );
    this.name = 'ListenError';
  }
}

/** server.listen as a promise that rejects with a ListenError instead of a bare EADDRINUSE. */
export function listen(server: http.Server, port: number, host: string, variable: string): Promise<http.Server> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException) => reject(new ListenError(port, host, variable, err.code));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server);
    });
  });
}
