// The real callpop binary for the browser tests: its own directory, the demo store, ports
// the system picks on 127.0.0.1, and a switch connection that speaks the native protocol.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync, existsSync, openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const binary = process.env.CALLPOP_BINARY ?? 'build/callpop';

export class Daemon {
  constructor() {
    this.dir = mkdtempSync(join(tmpdir(), 'callpop-browser-'));
    this.config = join(this.dir, 'callpop.yaml');
    writeFileSync(this.config, [
      'site: {region: US, timezone: America/New_York}',
      'listen:',
      '  switch: {address: 127.0.0.1, port: 0}',
      '  agent: {address: 127.0.0.1, port: 0}',
      '  http: {address: 127.0.0.1, port: 0}',
      `storage: {path: ${join(this.dir, 'callpop.db')}}`,
      `call_log: {jsonl: ${join(this.dir, 'calls.jsonl')}, flush_ms: 5}`,
      'calls: {resync_s: 1}',
      'lines:',
      '  - {number: "8005551000", name: Support hotline}',
      'outcomes:',
      '  - {code: resolved, label: Resolved on the call}',
      '  - {code: repaired, label: Repaired}',
      '  - {code: complaint, label: Complaint}',
      // Follow-ups at any hour, so that the tests do not depend on the time they run.
      'followups:',
      '  defaults:',
      '    window: {from: "00:00", to: "23:59", days: [mon, tue, wed, thu, fri, sat, sun]}',
      '  outcomes:',
      '    repaired: {kind: satisfaction, delay: 0s}',
      'log: {level: debug}',
      '',
    ].join('\n'));
    execFileSync(binary, ['demo-data', '--config', this.config, '--customers', '200'], { stdio: 'pipe' });
    // An agent the demo's call log has never seen.
    execFileSync(binary, ['agent', 'add', '2001', '--token', 'token-2001', '--config', this.config], { stdio: 'pipe' });
  }

  async start() {
    const ready = join(this.dir, 'ready.json');
    rmSync(ready, { force: true });
    this.logPath = join(this.dir, 'daemon.log');
    const log = openSync(this.logPath, 'a');
    this.process = spawn(binary, ['serve', '--config', this.config, '--ready-file', ready],
      { stdio: ['ignore', log, log] });
    const deadline = Date.now() + 20000;
    while (!existsSync(ready)) {
      if (this.process.exitCode !== null) throw new Error(`callpop serve exited:\n${this.log()}`);
      if (Date.now() > deadline) throw new Error(`callpop serve did not become ready:\n${this.log()}`);
      await sleep(20);
    }
    const ports = JSON.parse(readFileSync(ready, 'utf8'));
    this.switchPort = ports.switch_port;
    this.agentPort = ports.agent_port;
    this.url = `http://127.0.0.1:${ports.http_port}`;
    // A restart keeps these ports, so that pages and switches reconnect to the same place.
    writeFileSync(this.config, readFileSync(this.config, 'utf8')
      .replace('switch: {address: 127.0.0.1, port: 0}', `switch: {address: 127.0.0.1, port: ${this.switchPort}}`)
      .replace('agent: {address: 127.0.0.1, port: 0}', `agent: {address: 127.0.0.1, port: ${this.agentPort}}`)
      .replace('http: {address: 127.0.0.1, port: 0}', `http: {address: 127.0.0.1, port: ${ports.http_port}}`));
  }

  // Its directory, once stopped: the tests leave nothing behind in /tmp.
  remove() { rmSync(this.dir, { recursive: true, force: true }); }

  log() { return existsSync(this.logPath) ? readFileSync(this.logPath, 'utf8') : ''; }

  async stop() {
    if (!this.process || this.process.exitCode !== null) return;
    const exited = new Promise((resolve) => this.process.once('exit', resolve));
    this.process.kill('SIGTERM');
    await Promise.race([exited, sleep(20000).then(() => this.process.kill('SIGKILL'))]);
  }

  // One row of the store, read with the sqlite3 shell (read-only, beside the running daemon).
  query(sql) {
    return execFileSync('sqlite3', ['-readonly', '-json', join(this.dir, 'callpop.db'), sql],
      { encoding: 'utf8' });
  }

  // A switch on the native port; send() writes one event line.
  async connectSwitch() {
    const socket = createConnection({ host: '127.0.0.1', port: this.switchPort });
    await new Promise((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject); });
    socket.on('data', () => {});  // errors and pongs, unused
    const send = (event) => socket.write(`${JSON.stringify(event)}\n`);
    send({ event: 'hello', switch: 'browser-test' });
    return { send, close: () => socket.destroy() };
  }
}

// A native ring at `ext` from Pat Doe (the demo's first customer).
export function ring(call, ext, from = '+1 (555) 010-2000') {
  return { event: 'ring', call, from, name: 'PAT DOE', to: '8005551000', ext, queue: 'support' };
}
