import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { freePort } from '../../local/dynamodb-local';

// A stack binds the ports it was given seconds later; a port from the kernel's range for outgoing
// connections can be taken meanwhile as some connection's local port (CI saw the console's listen fail
// that way). freePort chooses below that range, in this worker's own block, and never a port in use.
const ephemeralLow = Number(
  readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0],
);
const worker = Number(process.env.JEST_WORKER_ID ?? 0);

const listenOn = (port: number) =>
  new Promise<Server>((ok, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });

it('chooses ports below the range for outgoing connections, in this worker’s block, all distinct', async () => {
  const ports: number[] = [];
  for (let i = 0; i < 50; i++) ports.push(await freePort());
  expect(new Set(ports).size).toBe(ports.length);
  const block = 10_000 + worker * 1_000;
  for (const port of ports) {
    expect(port).toBeLessThan(ephemeralLow);
    expect(port).toBeGreaterThanOrEqual(block);
    expect(port).toBeLessThan(block + 1_000);
  }
});

it('skips a port something listens on', async () => {
  const held: Server[] = [];
  try {
    // Hold the next ten ports freePort would try; it must step past all of them.
    const first = await freePort();
    for (let port = first + 1; port <= first + 10 && port < 10_000 + (worker + 1) * 1_000; port++)
      held.push(await listenOn(port));
    const heldPorts = held.map((s) => (s.address() as { port: number }).port);
    const next = await freePort();
    expect(heldPorts).not.toContain(next);
    held.push(await listenOn(next));
  } finally {
    for (const server of held) server.close();
  }
});
