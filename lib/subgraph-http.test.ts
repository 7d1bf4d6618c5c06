import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isQueryBody, postToSubgraph, sharedRequestCount } from './subgraph-http';

/** A real HTTP server that answers each POST after `delayMs`, counting what it received and what was abandoned. */
async function slowServer(delayMs: number) {
  const seen = { requests: 0, abandoned: 0 };
  const server = http.createServer((req, res) => {
    seen.requests++;
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString()));
    const timer = setTimeout(() => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: { echo: body, n: seen.requests } }));
    }, delayMs);
    res.on('close', () => {
      if (!res.writableFinished) {
        seen.abandoned++;
        clearTimeout(timer);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
  const close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections(); // the pool keeps connections alive; the test does not wait for them to idle out
    });
  return { url, seen, close };
}

const QUERY = JSON.stringify({ query: 'query { a }', variables: {} });

describe('postToSubgraph', () => {
  it('sends identical queries in flight once and gives each caller its own copy of the answer', async () => {
    const server = await slowServer(150);
    try {
      const before = sharedRequestCount();
      const answers = await Promise.all(
        [1, 2, 3].map(() =>
          postToSubgraph({
            url: server.url,
            headers: { 'content-type': 'application/json' },
            body: QUERY,
            dedupeKey: 'k',
          }),
        ),
      );
      expect(server.seen.requests).toBe(1);
      expect(sharedRequestCount() - before).toBe(2);
      const bodies = await Promise.all(answers.map((a) => a.json()));
      expect(bodies[0]).toEqual({ data: { echo: QUERY, n: 1 } });
      expect(bodies[1]).toEqual(bodies[0]);
      expect(bodies[1]).not.toBe(bodies[0]); // parsed separately: no caller can change another's answer
      // Once answered, the next identical query is sent again: only requests in flight are merged.
      await postToSubgraph({ url: server.url, headers: {}, body: QUERY, dedupeKey: 'k' });
      expect(server.seen.requests).toBe(2);
    } finally {
      await server.close();
    }
  });

  it('keeps a shared request going while one caller is still waiting, and stops it when every caller has gone', async () => {
    const server = await slowServer(300);
    try {
      const leaving = new AbortController();
      const staying = postToSubgraph({ url: server.url, headers: {}, body: QUERY, dedupeKey: 'shared' });
      const left = postToSubgraph({
        url: server.url,
        headers: {},
        body: QUERY,
        dedupeKey: 'shared',
        signal: leaving.signal,
      });
      leaving.abort();
      await expect(left).rejects.toMatchObject({ name: 'AbortError' });
      expect((await staying).status).toBe(200);
      expect(server.seen).toEqual({ requests: 1, abandoned: 0 });

      const a = new AbortController();
      const b = new AbortController();
      const first = postToSubgraph({ url: server.url, headers: {}, body: QUERY, dedupeKey: 'gone', signal: a.signal });
      const second = postToSubgraph({ url: server.url, headers: {}, body: QUERY, dedupeKey: 'gone', signal: b.signal });
      await new Promise((r) => setTimeout(r, 50));
      a.abort();
      b.abort();
      await expect(first).rejects.toMatchObject({ name: 'AbortError' });
      await expect(second).rejects.toMatchObject({ name: 'AbortError' });
      await new Promise((r) => setTimeout(r, 100));
      expect(server.seen).toEqual({ requests: 2, abandoned: 1 });
    } finally {
      await server.close();
    }
  });

  it('reports a subgraph that does not answer in time as a timeout', async () => {
    const server = await slowServer(2_000);
    try {
      await expect(postToSubgraph({ url: server.url, headers: {}, body: QUERY, timeoutMs: 200 })).rejects.toMatchObject(
        { name: 'TimeoutError' },
      );
    } finally {
      await server.close();
    }
  });

  it('merges only queries: a mutation sent once for two callers would make one change where two were asked', () => {
    expect(
      isQueryBody(JSON.stringify({ query: 'query($r: [_Any!]!) { _entities(representations: $r) { __typename } }' })),
    ).toBe(true);
    expect(isQueryBody(JSON.stringify({ query: '{ legalEntities { code } }' }))).toBe(true);
    expect(isQueryBody(JSON.stringify({ query: 'mutation { a }' }))).toBe(false);
    expect(isQueryBody(JSON.stringify({ query: 'subscription { a }' }))).toBe(false);
    expect(isQueryBody(JSON.stringify({ variables: {}, query: 'query { a }' }))).toBe(false); // unknown shape: not merged
  });
});
