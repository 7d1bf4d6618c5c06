// `npm start` as a newcomer meets it: it comes up, prints a lineage query that works, and Ctrl-C leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const ROOT = join(__dirname, '..');

/** The environment of a fresh shell: nothing of the test system's own settings. */
function cleanEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([k]) => !/^(MONGODB_URI|USAGEGRAPH_(?!CACHE_DIR)|SUBGRAPH_URL_|ERP_|LOG_LEVEL)/.test(k),
    ),
  );
  return { ...env, ...extra };
}

interface Launched {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const launchedChildren: ChildProcess[] = [];

// A test that failed half-way must not leave its system running (it would also keep Jest from exiting): Ctrl-C its
// process group, and kill it if it does not stop.
afterEach(async () => {
  for (const child of launchedChildren.splice(0)) {
    if (child.exitCode !== null || child.signalCode !== null || !child.pid) continue;
    const stopped = new Promise((resolve) => child.once('exit', resolve));
    const signal = (name: NodeJS.Signals) => {
      try {
        process.kill(-child.pid!, name);
      } catch {
        // already gone
      }
    };
    signal('SIGINT');
    const timer = setTimeout(() => signal('SIGKILL'), 30_000);
    await stopped;
    clearTimeout(timer);
  }
}, 60_000);

function launch(env: NodeJS.ProcessEnv): Launched {
  // Its own process group, so a signal to the group is what Ctrl-C in a terminal sends.
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'scripts', 'start.ts')], {
    cwd: ROOT,
    env,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  launchedChildren.push(child);
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function waitFor(launched: Launched, text: string, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!launched.output().includes(text)) {
    if (Date.now() > deadline) throw new Error(`"${text}" did not appear; output so far:\n${launched.output()}`);
    if (launched.child.exitCode !== null)
      throw new Error(`start exited with ${launched.child.exitCode}:\n${launched.output()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const listening = (port: number) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port }, () => {
      socket.end();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });

/** A data directory of its own for one launch; all are removed after the file (kept with USAGEGRAPH_KEEP_TEST_DATA=1). */
const dataDirs: string[] = [];
function newDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'usagegraph-start-'));
  dataDirs.push(dir);
  return dir;
}
afterAll(() => {
  if (process.env.USAGEGRAPH_KEEP_TEST_DATA === '1') return;
  for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
});

it('starts everything, prints a lineage query that returns the demo invoice, and stops cleanly on Ctrl-C', async () => {
  const dataDir = newDataDir();
  const app = launch(cleanEnv({ USAGEGRAPH_DATA_DIR: dataDir }));
  await waitFor(app, 'Press Ctrl-C to stop everything.');
  const out = app.output();
  expect(out).toContain('using the embedded database');
  expect(out).toMatch(/demo data for \d{4}-\d{2}: 1000 events accepted/);
  expect(out).toMatch(/credit note US01-CN-\d{4}-000001 posted/);

  // Run the printed curl command's request as printed.
  const gatewayUrl = /curl -s (\S+) /.exec(out)![1]!;
  const body = /--data '(.+)'/.exec(out)![1]!;
  const authorization = /-H 'authorization: (Bearer ugk_\S+)'/.exec(out)![1]!;
  const result = (await (
    await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json', authorization }, body })
  ).json()) as any;
  // Without the printed key, the same request is refused with no data.
  const anonymous = await fetch(gatewayUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  expect(anonymous.status).toBe(401);
  expect(((await anonymous.json()) as any).data).toBeUndefined();
  const invoice = result.data.invoiceByNumber;
  expect(invoice.status).toBe('FINALIZED');
  expect(invoice.lines.length).toBe(3); // two usage lines and the platform fee billed in advance
  expect(invoice.lines[0].ratedCharge.aggregate.events.nodes.length).toBeGreaterThan(0);
  expect(invoice.erpPostings[0]).toMatchObject({ status: 'POSTED', erpDocument: { system: 'hledger-web' } });
  expect(
    new Set([
      invoice.correlationId,
      invoice.erpPostings[0].correlationId,
      invoice.lines[0].ratedCharge.aggregate.events.nodes[0].correlationId,
    ]).size,
  ).toBe(1);

  const pids = (JSON.parse(readFileSync(join(dataDir, 'run', 'processes.json'), 'utf8')) as Array<{ pid: number }>).map(
    (p) => p.pid,
  );
  expect(pids).toHaveLength(10); // FerretDB, hledger-web, seven subgraphs, the gateway
  const gatewayPort = Number(new URL(gatewayUrl).port);

  process.kill(-app.child.pid!, 'SIGINT');
  expect(await app.exited).toBe(0);
  expect(app.output()).toContain('stopped; nothing is left running.');
  expect(pids.filter(alive)).toEqual([]);
  expect(await listening(gatewayPort)).toBe(false);

  // A second start in the same folder reuses the data: the demo is already there.
  const again = launch(cleanEnv({ USAGEGRAPH_DATA_DIR: dataDir }));
  await waitFor(again, 'Press Ctrl-C to stop everything.');
  expect(again.output()).toMatch(/0 events accepted, 1000 already there/);
  process.kill(again.child.pid!, 'SIGTERM');
  expect(await again.exited).toBe(0);
}, 600_000);

it('uses the MongoDB named by MONGODB_URI instead of starting the embedded one', async () => {
  const dataDir = newDataDir();
  // The suite's own database server stands in for "any MongoDB".
  const app = launch(
    cleanEnv({
      USAGEGRAPH_DATA_DIR: dataDir,
      MONGODB_URI: process.env.MONGODB_URI!,
      USAGEGRAPH_DB_PREFIX: `ugstart_${Date.now().toString(36)}`,
      USAGEGRAPH_DEMO: 'off',
    }),
  );
  await waitFor(app, 'Press Ctrl-C to stop everything.');
  expect(app.output()).toContain('using the MongoDB at MONGODB_URI');
  expect(app.output()).not.toContain('starting the embedded database');
  const commands = (
    JSON.parse(readFileSync(join(dataDir, 'run', 'processes.json'), 'utf8')) as Array<{ command: string }>
  ).map((p) => p.command);
  expect(commands.some((c) => c.includes('ferretdb'))).toBe(false);
  expect(commands).toHaveLength(9); // hledger-web, seven subgraphs, the gateway
  process.kill(app.child.pid!, 'SIGTERM');
  expect(await app.exited).toBe(0);
}, 400_000);

/** The printed gateway URL and platform key of a started system. */
function printed(launched: Launched): { gatewayUrl: string; authorization: string } {
  const out = launched.output();
  return {
    gatewayUrl: /Gateway \(GraphQL\)\s+(\S+)/.exec(out)![1]!,
    authorization: `Bearer ${/platform {2}(ugk_\S+)/.exec(out)![1]!}`,
  };
}

const viewer = async (gatewayUrl: string, authorization: string) =>
  fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query: '{ viewer { subject } }' }),
  });

it('runs two starts at once side by side, each on its own ports and its own subgraphs; PORT picks the gateway port', async () => {
  const gatewayPort = await new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
  const env = (extra: NodeJS.ProcessEnv) =>
    cleanEnv({
      USAGEGRAPH_DATA_DIR: newDataDir(),
      USAGEGRAPH_DEMO: 'off',
      ...extra,
    });
  const [one, two] = [launch(env({ PORT: String(gatewayPort) })), launch(env({}))];
  try {
    await Promise.all([
      waitFor(one, 'Press Ctrl-C to stop everything.'),
      waitFor(two, 'Press Ctrl-C to stop everything.'),
    ]);
    const a = printed(one);
    const b = printed(two);
    expect(a.gatewayUrl).toBe(`http://127.0.0.1:${gatewayPort}/graphql`);
    expect(b.gatewayUrl).not.toBe(a.gatewayUrl);
    const subgraphUrls = (l: Launched) => [...l.output().matchAll(/subgraph \S+\s+(http\S+)/g)].map((m) => m[1]);
    expect(subgraphUrls(one)).toHaveLength(7);
    expect(subgraphUrls(one).filter((u) => subgraphUrls(two).includes(u))).toEqual([]);
    // Each gateway answers with its own system's key and refuses the other's: it talks to its own access subgraph.
    expect((await viewer(a.gatewayUrl, a.authorization)).status).toBe(200);
    expect((await viewer(b.gatewayUrl, b.authorization)).status).toBe(200);
    expect((await viewer(a.gatewayUrl, b.authorization)).status).toBe(401);
    expect((await viewer(b.gatewayUrl, a.authorization)).status).toBe(401);
  } finally {
    for (const l of [one, two]) if (l.child.exitCode === null) process.kill(l.child.pid!, 'SIGTERM');
    expect(await one.exited).toBe(0);
    expect(await two.exited).toBe(0);
  }
}, 600_000);

it('stops with the reason when the port PORT names is taken, leaving nothing running', async () => {
  const squatter = net.createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  const port = (squatter.address() as net.AddressInfo).port;
  const dataDir = newDataDir();
  try {
    const app = launch(cleanEnv({ USAGEGRAPH_DATA_DIR: dataDir, USAGEGRAPH_DEMO: 'off', PORT: String(port) }));
    expect(await app.exited).toBe(1);
    expect(app.output()).toContain(`port ${port} on 127.0.0.1 is taken by another process`);
    expect(app.output()).toContain('stopped; nothing is left running.');
  } finally {
    squatter.close();
  }
}, 400_000);
