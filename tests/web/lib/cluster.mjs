// A cluster of three real jkd processes on 127.0.0.1 for the browser journeys,
// started the way tests/integration/cluster.c starts one: free ports, one key
// from `jkdctl cluster keygen`, a fast Raft tick and cheap password hashing.
// Every wait has a deadline; stop() ends every process this module started.

import { spawn, execFile } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { waitUntil } from './wait.mjs';

const NODE_START_TIMEOUT_MS = 20000;
const LEADER_TIMEOUT_MS = 20000;
const STOP_TIMEOUT_MS = 10000;
const COMMAND_TIMEOUT_MS = 60000;
// Another program may take a probed port before jkd binds it, so a start that
// fails with EADDRINUSE is tried again on new ports.
const START_ATTEMPTS = 3;

// The same flags as the C cluster tests: Argon2id at 8 MiB and one pass keeps
// logins fast, and a 20 ms tick with 10 ticks per election elects a leader quickly.
const NODE_FLAGS = [
  '--http-workers', '2',
  '--auth-hash-memory-mb', '8', '--auth-hash-ops', '1',
  '--auth-login-address-attempts', '100000',
  '--cluster-tick-ms', '20', '--cluster-election-ticks', '10',
];

// Every jkd process started and not yet exited, for killAll().
const running = new Set();

// Kills every jkd process this module started, at once; for a watchdog or a signal.
export function killAll() {
  for (const child of running) {
    child.kill('SIGKILL');
  }
}

export function binary(name) {
  const path = process.env[name];
  if (!path) {
    throw new Error(`${name} is not set; run the browser tests through ctest, which sets it`);
  }
  return path;
}

// Ports handed out by this process, so that no two nodes get the same one.
const handedOut = new Set();

// Returns a TCP port that was free on 127.0.0.1 a moment ago.
async function freePort() {
  for (;;) {
    const port = await probePort();
    if (!handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function probePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

// Runs a command to completion within COMMAND_TIMEOUT_MS, writing input to its
// standard input; rejects with its output when it fails.
export function run(file, args, { input, env = {} } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(file, args, {
      env: { ...process.env, ...env },
      timeout: COMMAND_TIMEOUT_MS,
      killSignal: 'SIGKILL',
      maxBuffer: 4 << 20,
    }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${file} ${args.join(' ')} failed (${error.signal ?? `exit ${error.code}`}): ${stderr || stdout}`));
        return;
      }
      resolve(stdout);
    });
    // A command that exits without reading its input closes the pipe, so EPIPE is ignored and the exit status decides.
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

async function fetchJson(url, timeoutMs = 2000) {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  return response.ok ? response.json() : null;
}

class Node {
  constructor(cluster, id) {
    this.cluster = cluster;
    this.id = id;
    this.dataDir = join(cluster.dir, `node${id}`);
    this.logPath = `${this.dataDir}.log`;
    this.process = null;
    this.exit = null;
  }

  get url() {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  get operatorAddress() {
    return `127.0.0.1:${this.operatorPort}`;
  }

  get tokenPath() {
    return join(this.dataDir, 'operator.token');
  }

  async allocatePorts() {
    this.httpPort = await freePort();
    this.operatorPort = await freePort();
    this.clusterAddress = `tcp://127.0.0.1:${await freePort()}`;
  }

  // Starts jkd and resolves once it logs msg=node_started, the line the C harness also waits for.
  async start() {
    const c = this.cluster;
    const peers = c.nodes.filter((n) => n !== this).map((n) => `${n.id}=${n.clusterAddress}`).join(',');
    const args = [
      '--node-data-dir', this.dataDir,
      '--http-listen', `127.0.0.1:${this.httpPort}`,
      '--operator-listen', this.operatorAddress,
      '--cluster-node-id', String(this.id),
      '--cluster-listen', this.clusterAddress,
      '--cluster-peers', peers,
      '--cluster-bootstrap', c.nodes.map((n) => n.id).join(','),
      '--cluster-key-file', c.keyPath,
      '--http-cluster-origins', c.nodes.map((n) => n.url).join(','),
      ...NODE_FLAGS,
    ];
    await mkdir(this.dataDir);
    const log = createWriteStream(this.logPath);
    const child = spawn(binary('JKD_BIN'), args, { stdio: ['ignore', 'ignore', 'pipe'] });
    this.process = child;
    running.add(child);
    this.exited = new Promise((resolve) => {
      // 'close' comes after the last of stderr, so the start-up log is complete.
      child.once('close', (code, signal) => {
        running.delete(child);
        this.exit = { code, signal };
        resolve(this.exit);
      });
      child.once('error', (error) => {
        running.delete(child);
        this.exit = { code: null, signal: null, error };
        resolve(this.exit);
      });
    });

    let started = false;
    let logged = '';
    child.stderr.on('data', (chunk) => {
      log.write(chunk);
      if (!started) {
        logged = (logged + chunk.toString()).slice(-4096);
        started = logged.includes('msg=node_started');
        this.addressInUse = logged.includes('EADDRINUSE');
      }
    });
    child.stderr.once('end', () => log.end());
    const exitedEarly = this.exited.then((exit) => {
      throw new Error(`node ${this.id} exited during start-up (${JSON.stringify(exit)}); log ${this.logPath}`);
    });
    await Promise.race([
      waitUntil(() => started, `node ${this.id} to start (log ${this.logPath})`, NODE_START_TIMEOUT_MS),
      exitedEarly,
    ]);
    exitedEarly.catch(() => {});
  }

  // Sends SIGKILL, as a crash would; resolves with the exit.
  async kill() {
    if (!this.process || this.exit) {
      return this.exit;
    }
    this.killed = true;
    this.process.kill('SIGKILL');
    return this.exited;
  }

  // Sends SIGTERM, then SIGKILL after STOP_TIMEOUT_MS; resolves with the exit.
  async stop() {
    if (!this.process || this.exit) {
      return this.exit;
    }
    this.process.kill('SIGTERM');
    const timer = setTimeout(() => this.process.kill('SIGKILL'), STOP_TIMEOUT_MS);
    const exit = await this.exited;
    clearTimeout(timer);
    return exit;
  }
}

export class Cluster {
  constructor(dir, count) {
    this.dir = dir;
    this.keyPath = join(dir, 'cluster.key');
    this.nodes = Array.from({ length: count }, (_, i) => new Node(this, i + 1));
  }

  // Makes a directory under tmpRoot, starts count nodes and waits until every
  // node reports the same leader.
  static async start(tmpRoot, count = 3) {
    await mkdir(tmpRoot, { recursive: true });
    for (let attempt = 1; ; attempt++) {
      const cluster = new Cluster(await mkdtemp(join(tmpRoot, 'cluster-')), count);
      try {
        await cluster.startNodes();
        return cluster;
      } catch (error) {
        await cluster.stop();
        if (attempt < START_ATTEMPTS && cluster.nodes.some((node) => node.addressInUse)) {
          console.error(`a port was taken before jkd could bind it (logs in ${cluster.dir}); starting again`);
          continue;
        }
        error.message += `\nnode logs (kept):\n  ${cluster.logPaths.join('\n  ')}`;
        throw error;
      }
    }
  }

  async startNodes() {
    await run(binary('JKDCTL_BIN'), ['cluster', 'keygen', this.keyPath]);
    for (const node of this.nodes) {
      await node.allocatePorts();
    }
    await Promise.all(this.nodes.map((node) => node.start()));
    await this.waitLeader();
  }

  async waitLeader() {
    await waitUntil(async () => {
      const leaders = await Promise.all(this.nodes.map(async (node) => {
        const health = await fetchJson(`${node.url}/healthz`);
        return health?.leader ?? 0;
      }));
      return leaders[0] > 0 && leaders.every((leader) => leader === leaders[0]);
    }, 'every node to report the same leader on /healthz', LEADER_TIMEOUT_MS);
  }

  get logPaths() {
    return this.nodes.map((node) => node.logPath);
  }

  // Stops every node; resolves with a list of the nodes that did not exit 0
  // (a sanitizer report makes jkd exit non-zero).
  async stop() {
    const exits = await Promise.all(this.nodes.map((node) => node.stop()));
    return exits
      .map((exit, i) => ({ id: this.nodes[i].id, exit }))
      .filter(({ exit }, i) => exit && exit.code !== 0 && !this.nodes[i].killed);
  }

  async remove() {
    await rm(this.dir, { recursive: true, force: true });
  }

  // Creates an administrator through node 1's operator API, as the operator guide shows.
  async createAdmin(email, password, name) {
    const node = this.nodes[0];
    await run(binary('JKDCTL_BIN'), ['admin', 'create', '--email', email, '--name', name], {
      input: `${password}\n`,
      env: { JKD_NODE: node.operatorAddress, JKD_TOKEN_FILE: node.tokenPath },
    });
  }

  // Loads the demo catalog through node 1 with jkd-demo, as scripts/demo does.
  async loadDemo(email, password) {
    await run(binary('JKD_DEMO_BIN'), ['--url', this.nodes[0].url, '--email', email], { input: `${password}\n` });
  }
}
