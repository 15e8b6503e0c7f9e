import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod/v4';
import { eventually } from './eventually.ts';

/**
 * A JetStream cluster of real `nats-server` processes on loopback, for the NATS failure cases of
 * issue 22 (docs/scale-out.md, "A 3-node NATS cluster"): each node has its own config file
 * (server_name, client port, monitoring port, cluster routes to every node, JetStream store dir
 * under one tmp dir). `start` resolves once every node answers /healthz and JetStream has a meta
 * leader; a node can be killed with SIGKILL and restarted on the same ports and store (it rejoins
 * with its data). The binary: `nats-server` on PATH, else Debian's /usr/sbin/nats-server.
 */

const DEBIAN_NATS_SERVER = '/usr/sbin/nats-server';

export function natsServerBinary(): string {
  if (spawnSync('sh', ['-c', 'command -v nats-server'], { stdio: 'ignore' }).status === 0)
    return 'nats-server';
  if (fs.existsSync(DEBIAN_NATS_SERVER)) return DEBIAN_NATS_SERVER;
  throw new Error('nats-server not found (apt-get install nats-server); the NATS cluster tests need it');
}

/** A port the kernel just gave us (closed again: a small race, fine on a test host). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address === null || typeof address === 'string') reject(new Error('no port'));
        else resolve(address.port);
      });
    });
  });
}

/** The parts of /jsz we read: who leads the meta group (JetStream's own control plane). */
const Jsz = z.looseObject({
  meta_cluster: z.looseObject({ leader: z.string().optional() }).optional(),
});

/** The parts of /jsz?streams=true we read: the leader and replicas of each stream. */
const JszStreams = z.looseObject({
  account_details: z
    .array(
      z.looseObject({
        stream_detail: z
          .array(
            z.looseObject({
              name: z.string(),
              cluster: z
                .looseObject({
                  leader: z.string().optional(),
                  replicas: z.array(z.looseObject({ name: z.string(), current: z.boolean() })).optional(),
                })
                .optional(),
            }),
          )
          .optional(),
      }),
    )
    .optional(),
});

export interface NatsNode {
  /** server_name, also what /jsz names leaders by. */
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly monitorPort: number;
  running(): boolean;
}

class Node implements NatsNode {
  child: ChildProcess | undefined;
  exited: Promise<void> = Promise.resolve();

  constructor(
    readonly name: string,
    readonly port: number,
    readonly monitorPort: number,
    readonly configFile: string,
    readonly logFile: string,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  running(): boolean {
    return this.child !== undefined;
  }
}

export class NatsCluster {
  private constructor(
    private readonly dir: string,
    private readonly binary: string,
    private readonly members: Node[],
  ) {}

  /** Writes the configs, starts every node, waits for a meta leader. */
  static async start(options: { size?: number; name?: string } = {}): Promise<NatsCluster> {
    const size = options.size ?? 3;
    const clusterName = options.name ?? 'nats-test';
    const binary = natsServerBinary();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nats-cluster-'));
    const ports = [];
    for (let i = 0; i < size; i++)
      ports.push({ client: await freePort(), route: await freePort(), monitor: await freePort() });
    const routes = ports.map((p) => `nats://127.0.0.1:${p.route}`);
    const members = ports.map((p, i) => {
      const name = `n${i + 1}`;
      const store = path.join(dir, name);
      fs.mkdirSync(store, { recursive: true });
      const configFile = path.join(dir, `${name}.conf`);
      fs.writeFileSync(
        configFile,
        [
          `server_name: ${name}`,
          `listen: 127.0.0.1:${p.client}`,
          `http: 127.0.0.1:${p.monitor}`,
          `jetstream { store_dir: ${JSON.stringify(store)} }`,
          `cluster {`,
          `  name: ${clusterName}`,
          `  listen: 127.0.0.1:${p.route}`,
          `  routes: [${routes.map((r) => JSON.stringify(r)).join(', ')}]`,
          `}`,
          '',
        ].join('\n'),
      );
      return new Node(name, p.client, p.monitor, configFile, path.join(dir, `${name}.log`));
    });
    const cluster = new NatsCluster(dir, binary, members);
    for (const node of members) cluster.spawn(node);
    await cluster.ready();
    return cluster;
  }

  get nodes(): readonly NatsNode[] {
    return this.members;
  }

  /** Every node's client URL: a `servers` list (nats.js also learns the others from INFO). */
  get servers(): string[] {
    return this.members.map((n) => n.url);
  }

  node(name: string): NatsNode {
    return this.member(name);
  }

  /** The node a client port belongs to (nats.js `nc.getServer()` says `127.0.0.1:port`). */
  nodeOfServer(hostPort: string): NatsNode {
    const port = Number(hostPort.split(':').pop());
    const node = this.members.find((n) => n.port === port);
    if (node === undefined) throw new Error(`no node listens on ${hostPort}`);
    return node;
  }

  /** SIGKILL: no goodbye to the routes or the clients, the store left as it was. */
  async kill(name: string): Promise<void> {
    const node = this.member(name);
    node.child?.kill('SIGKILL');
    await node.exited;
  }

  /** Starts a killed node again on its ports and store; resolves once it is healthy. */
  async restart(name: string): Promise<void> {
    const node = this.member(name);
    if (node.running()) throw new Error(`${name} is running`);
    this.spawn(node);
    await eventually(() => this.healthy(node), {
      timeoutMs: 20_000,
      everyMs: 100,
      what: `${name} to be healthy again (${this.logTail(node)})`,
    });
    // And the cluster with it: every running node current, a meta leader.
    await this.ready();
  }

  /** The meta leader's server_name, as a running node sees it (undefined: none now). */
  async metaLeader(): Promise<string | undefined> {
    for (const node of this.members.filter((n) => n.running())) {
      const jsz = await this.monitor(node, '/jsz', Jsz);
      const leader = jsz?.meta_cluster?.leader;
      if (leader !== undefined && leader !== '') return leader;
    }
    return undefined;
  }

  /** The leader of a stream (a KV bucket is the stream `KV_<bucket>`), as a running node sees it. */
  async streamLeader(stream: string): Promise<string | undefined> {
    for (const node of this.members.filter((n) => n.running())) {
      const jsz = await this.monitor(node, '/jsz?streams=true', JszStreams);
      for (const account of jsz?.account_details ?? []) {
        for (const detail of account.stream_detail ?? []) {
          const leader = detail.cluster?.leader;
          if (detail.name === stream && leader !== undefined && leader !== '') return leader;
        }
      }
    }
    return undefined;
  }

  /** Kills every node and removes the stores. */
  async stop(): Promise<void> {
    for (const node of this.members) node.child?.kill('SIGKILL');
    await Promise.all(this.members.map((n) => n.exited));
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private member(name: string): Node {
    const node = this.members.find((n) => n.name === name);
    if (node === undefined) throw new Error(`no NATS node ${name}`);
    return node;
  }

  private spawn(node: Node): void {
    const child = spawn(this.binary, ['-c', node.configFile, '-l', node.logFile], { stdio: 'ignore' });
    node.child = child;
    node.exited = new Promise((resolve) => {
      child.once('exit', () => {
        if (node.child === child) node.child = undefined;
        resolve();
      });
    });
  }

  private async ready(): Promise<void> {
    await eventually(
      async () => {
        for (const node of this.members.filter((n) => n.running())) {
          if (!(await this.healthy(node))) return false;
        }
        return (await this.metaLeader()) !== undefined;
      },
      {
        timeoutMs: 30_000,
        everyMs: 100,
        what: () =>
          `every NATS node healthy and a meta leader (${this.members.map((n) => this.logTail(n)).join(' | ')})`,
      },
    );
  }

  /** /healthz answers 200 once the server runs and its JetStream is current with the cluster. */
  private async healthy(node: Node): Promise<boolean> {
    if (!node.running()) return false;
    try {
      const response = await fetch(`http://127.0.0.1:${node.monitorPort}/healthz`, {
        signal: AbortSignal.timeout(1_000),
      });
      return response.ok;
    } catch {
      return false;
    }
  }

  private async monitor<T>(node: Node, route: string, schema: z.ZodType<T>): Promise<T | undefined> {
    try {
      const response = await fetch(`http://127.0.0.1:${node.monitorPort}${route}`, {
        signal: AbortSignal.timeout(1_000),
      });
      if (!response.ok) return undefined;
      return schema.parse(await response.json());
    } catch {
      return undefined;
    }
  }

  private logTail(node: Node): string {
    try {
      return `${node.name}: ${fs.readFileSync(node.logFile, 'utf8').split('\n').slice(-3).join(' / ')}`;
    } catch {
      return `${node.name}: no log`;
    }
  }
}
