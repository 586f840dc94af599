import type { Express } from 'express';
import request from 'supertest';
import type { HttpRequest, HttpResponse, Send } from './replay';

/** A replay `send` that drives an in-process Express app through supertest, keeping the body as raw text. */
export function supertestSend(app: Express): Send {
  return async (req: HttpRequest): Promise<HttpResponse> => {
    const agent = request(app);
    let r = (
      {
        GET: agent.get,
        POST: agent.post,
        PUT: agent.put,
        PATCH: agent.patch,
        DELETE: agent.delete,
      } as const
    )[req.method].call(agent, req.path);
    for (const [k, v] of Object.entries(req.headers)) r = r.set(k, v);
    if (req.body !== undefined) r = r.send(req.body);
    // Raw text whatever the content type, so the replay engine (not superagent) decides what is JSON.
    r = r.buffer(true).parse((res, cb) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => cb(null, text));
    });
    const res = await r;
    return { status: res.status, headers: res.headers as Record<string, string>, text: typeof res.body === 'string' ? res.body : '' };
  };
}
