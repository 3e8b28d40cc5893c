#!/usr/bin/env python3
"""Memory of idle agent sessions: logs N agents in to a fresh `callpop serve` and reports the
daemon's resident memory before and after, and per connection.

    bench/idle_agents.py --agents 2000                 # build/callpop, 2,000 agents
    bench/idle_agents.py --agents 10000 --callpop build-bench/callpop
    bench/idle_agents.py --agents 2000 --wrap "heaptrack -o /tmp/idle"   # profile the daemon
    bench/idle_agents.py --agents 10000 --tls          # over TLS (tests/integration/tls certs)

The agents are written straight into a fresh store with a one-iteration token hash
("pbkdf2-sha256$1$salt$hash", the format of storage/token_hash.hpp), so that logging in
10,000 of them takes seconds instead of the minute the real hash costs: this measures the
sessions, not the token check. Each client sends its login as soon as it is connected,
waits for `welcome`, then only pings (every 5 s, heartbeat_s is 15) while the figures are
taken. Nothing here is run by ctest.
"""
import argparse
import hashlib
import json
import os
import selectors
import shlex
import signal
import socket
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import time

CONFIG = """\
site: {{region: US, timezone: America/New_York}}
listen:
  switch: {{address: 127.0.0.1, port: 0}}
  agent: {{address: 127.0.0.1, port: 0{tls}}}
storage: {{backend: sqlite, path: {dir}/callpop.db}}
call_log: {{jsonl: {dir}/calls.jsonl}}
sessions: {{login_timeout_s: 10, heartbeat_s: 15, queue_max: 1024}}
outcomes:
  - {{code: resolved, label: Resolved}}
log: {{level: warn}}
"""


def status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])  # kB
    return 0


def quick_hash(token):
    salt = os.urandom(16)
    digest = hashlib.pbkdf2_hmac("sha256", token.encode(), salt, 1, 32)
    return f"pbkdf2-sha256$1${salt.hex()}${digest.hex()}"


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=2000)
    parser.add_argument("--callpop", default=os.path.join(here, "..", "build", "callpop"))
    parser.add_argument("--wrap", default="", help="command the daemon runs under")
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before measuring")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--tls", action="store_true",
                        help="agents connect with TLS (the daemon gets the tests' certificate)")
    parser.add_argument("--kill", action="store_true",
                        help="end the daemon with SIGKILL, so that a heap profile's "
                             "leaks are what the idle sessions held")
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="callpop-idle.")
    config = os.path.join(work, "callpop.yaml")
    with open(config, "w") as f:
        certs = os.path.join(here, "..", "tests", "integration", "tls")
        tls = (f", tls: {{certificate: {certs}/server.pem, key: {certs}/server.key}}"
               if args.tls else "")
        f.write(CONFIG.format(dir=work, tls=tls))
    context = ssl.create_default_context(cafile=os.path.join(here, "..", "tests", "integration",
                                                             "tls", "ca.pem"))
    # One agent through callpop itself creates the store with its schema; the rest directly.
    subprocess.run([args.callpop, "agent", "add", "1001", "--config", config, "--token", "demo-1001"],
                   check=True, stdout=subprocess.DEVNULL)
    db = sqlite3.connect(os.path.join(work, "callpop.db"))
    db.executemany("INSERT OR REPLACE INTO agents (id, name, role, token_hash) VALUES (?, ?, 'agent', ?)",
                   [(str(1000 + i), f"Agent {1000 + i}", quick_hash(f"demo-{1000 + i}"))
                    for i in range(1, args.agents + 1)])
    db.commit()
    db.close()

    ready = os.path.join(work, "ready.json")
    daemon = subprocess.Popen(shlex.split(args.wrap) + [args.callpop, "serve", "--config", config,
                                                         "--ready-file", ready],
                              stderr=open(os.path.join(work, "daemon.log"), "w"))
    for _ in range(3000):
        if os.path.exists(ready) and os.path.getsize(ready) > 0:
            break
        if daemon.poll() is not None:
            sys.exit("callpop serve exited; see " + work)
        time.sleep(0.01)
    port = json.load(open(ready))["agent_port"]
    # Under a wrapper (heaptrack, valgrind) the daemon is a process of its own.
    pid = daemon.pid
    if args.wrap:
        binary = os.path.realpath(args.callpop)
        found = subprocess.run(["pgrep", "-f", "--", "--ready-file " + ready],
                               capture_output=True, text=True).stdout.split()
        pid = next(int(p) for p in found
                   if os.path.realpath(f"/proc/{p}/exe") == binary)
    time.sleep(0.5)
    rss_before = status(pid, "VmRSS")

    selector = selectors.DefaultSelector()
    pending = {}
    welcomed = 0
    started = time.monotonic()
    batch = 200  # connections opened before waiting for answers: within login_timeout_s
    next_agent = 1
    while welcomed < args.agents:
        while next_agent <= args.agents and len(pending) < batch:
            agent = str(1000 + next_agent)
            sock = socket.create_connection(("127.0.0.1", port))
            if args.tls:
                sock = context.wrap_socket(sock, server_hostname="localhost")
            sock.sendall((json.dumps({"type": "login", "agent": agent, "token": f"demo-{agent}",
                                      "extensions": [agent]}) + "\n").encode())
            sock.setblocking(False)
            pending[sock] = b""
            selector.register(sock, selectors.EVENT_READ)
            next_agent += 1
        for key, _ in selector.select(timeout=5):
            sock = key.fileobj
            try:
                data = sock.recv(65536)
            except (ssl.SSLWantReadError, ssl.SSLWantWriteError):
                continue
            if not data:
                sys.exit(f"connection closed before welcome; see {work}/daemon.log")
            pending[sock] += data
            if b'"welcome"' in pending[sock]:
                del pending[sock]
                selector.unregister(sock)
                sockets.append(sock)
                welcomed += 1
            elif b'"error"' in pending[sock]:
                sys.exit("login refused: " + pending[sock].decode(errors="replace"))
    login_s = time.monotonic() - started

    def ping_all():
        for sock in sockets:
            try:
                sock.send(b'{"type":"ping"}\n')
                while True:
                    sock.recv(65536)
            except (BlockingIOError, ssl.SSLWantReadError, ssl.SSLWantWriteError):
                pass

    deadline = time.monotonic() + args.settle
    while time.monotonic() < deadline:
        ping_all()
        time.sleep(min(5.0, max(0.0, deadline - time.monotonic())))
    ping_all()
    time.sleep(0.2)
    rss_after = status(pid, "VmRSS")
    hwm = status(pid, "VmHWM")
    result = {
        "agents": args.agents,
        "tls": args.tls,
        "login_s": round(login_s, 1),
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "peak_rss_kib": hwm,
        "bytes_per_session": round((rss_after - rss_before) * 1024 / args.agents),
    }
    os.kill(pid, signal.SIGKILL if args.kill else signal.SIGTERM)
    for sock in sockets:
        sock.close()
    daemon.wait(timeout=120)
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.agents} idle agents logged in in {result['login_s']} s; daemon RSS "
              f"{rss_before / 1024:.1f} MiB before, {rss_after / 1024:.1f} MiB after "
              f"(peak {hwm / 1024:.1f} MiB): {result['bytes_per_session']} bytes per session")


sockets = []

if __name__ == "__main__":
    main()
