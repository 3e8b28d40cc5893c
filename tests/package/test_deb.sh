#!/usr/bin/env bash
# Usage: tests/package/test_deb.sh BUILD_DIR
# Builds the .deb (cpack), checks what it holds, installs it with dpkg on this machine, and
# starts the service: with systemctl where systemd runs, otherwise as its unit says (the
# callpop user, its directories, NOTIFY_SOCKET), checking that readiness comes only once
# every port listens, that SIGHUP reloads and SIGTERM stops. Then purges it.
# Exits 77 (ctest: skipped) where it must not run: not root, or a callpop already installed
# (its store would go with the purge).
set -euo pipefail
build=$(cd "$1" && pwd)
fail() { echo "test_deb: $*" >&2; exit 1; }
skip() { echo "test_deb: skipped: $*" >&2; exit 77; }
[ "$(id -u)" = 0 ] || skip "dpkg -i needs root (CI runs as root)"
dpkg -s callpop >/dev/null 2>&1 && skip "a callpop package is installed here; this test would replace and purge it"
for port in 7700 7701 7702; do
  (exec 6<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && skip "port $port is taken (scripts/demo running?)"
done

work=$(mktemp -d)
daemon_pid=
cleanup() {
  [ -n "$daemon_pid" ] && kill -KILL "$daemon_pid" 2>/dev/null
  dpkg --purge callpop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

(cd "$build" && cpack -G DEB -B "$work/deb" >/dev/null)
deb=$(ls "$work"/deb/callpop_*.deb)
contents=$(dpkg-deb -c "$deb")
for file in ./usr/bin/callpop ./lib/systemd/system/callpop.service ./etc/callpop/callpop.yaml \
            ./etc/logrotate.d/callpop ./usr/share/doc/callpop/README.md ./usr/share/doc/callpop/docs/http.md; do
  grep -q " $file\$" <<<"$contents" || fail "$file is not in the package"
done
dpkg-deb -I "$deb" conffiles | grep -qx /etc/callpop/callpop.yaml || fail "the config is not a conffile"

dpkg -i "$deb" >/dev/null || fail "dpkg -i failed"
getent passwd callpop >/dev/null || fail "postinst made no callpop user"
[ "$(stat -c %G:%a /etc/callpop/callpop.yaml)" = callpop:640 ] || fail "the config is not callpop:640"
/usr/bin/callpop check-config --config /etc/callpop/callpop.yaml >/dev/null || fail "the packaged config does not pass"
verify=$(systemd-analyze verify /lib/systemd/system/callpop.service 2>&1) || fail "systemd-analyze verify: $verify"
# Warnings about the host (no D-Bus in a container) are not the unit's; a complaint about
# the unit names it.
if grep -q "callpop.service:" <<<"$verify"; then fail "systemd-analyze verify: $verify"; fi

http_get() {  # PORT PATH: the status line
  exec 5<>"/dev/tcp/127.0.0.1/$1"
  printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$2" >&5
  head -n 1 <&5 | tr -d '\r'
  exec 5<&-
}

if [ -d /run/systemd/system ]; then
  systemctl is-active --quiet callpop || systemctl start callpop || fail "systemctl start callpop"
  systemctl is-active --quiet callpop || fail "callpop is not active: $(systemctl status callpop 2>&1 | tail -5)"
  [ "$(http_get 7702 /healthz)" = "HTTP/1.1 200 OK" ] || fail "/healthz is not 200"
  systemctl reload callpop || fail "systemctl reload callpop"
  systemctl is-active --quiet callpop || fail "callpop died on reload"
  systemctl stop callpop
  echo "test_deb: installed, started, reloaded and stopped by systemd"
  exit 0
fi

# No systemd here (a container): as the unit runs it: the callpop user, in its state
# directory (postinst made it and the log directory), with Type=notify's socket.
[ "$(stat -c %U /var/lib/callpop)" = callpop ] || fail "postinst did not give /var/lib/callpop to callpop"
socket_dir=$(mktemp -d)
chmod 0755 "$socket_dir"
python3 - "$socket_dir/notify" >"$work/notify.log" 2>&1 <<'PY' &
import socket, sys, time
path = sys.argv[1]
listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
listener.bind(path)
import os; os.chmod(path, 0o666)
listener.settimeout(30)
end = time.time() + 30
while time.time() < end:
    try:
        message = listener.recv(4096).decode()
    except socket.timeout:
        break
    print(message.replace("\n", " "), flush=True)
    if "STOPPING=1" in message:
        break
PY
listener_pid=$!
for _ in $(seq 1 100); do [ -S "$socket_dir/notify" ] && break; sleep 0.05; done
# setpriv execs (runuser would fork and keep SIGHUP for itself).
(cd /var/lib/callpop && exec env NOTIFY_SOCKET="$socket_dir/notify" setpriv --reuid=callpop \
  --regid=callpop --init-groups /usr/bin/callpop serve --config /etc/callpop/callpop.yaml \
  >"$work/daemon.log" 2>&1) &
daemon_pid=$!
for _ in $(seq 1 200); do grep -q "READY=1" "$work/notify.log" && break; sleep 0.05; done
grep -q "READY=1" "$work/notify.log" || fail "no READY=1 within 10 s: $(cat "$work/daemon.log")"
# Ready means listening: this daemon holds every port now.
listening=$(ss -ltnpH 2>/dev/null)
for port in 7700 7701 7702; do
  grep -q "127.0.0.1:$port .*pid=$daemon_pid," <<<"$listening" ||
    fail "READY=1 sent but callpop ($daemon_pid) does not listen on $port: $listening"
done
[ "$(http_get 7702 /healthz)" = "HTTP/1.1 200 OK" ] || fail "/healthz is not 200: $(cat "$work/daemon.log")"
[ -f /var/lib/callpop/callpop.db ] || fail "no store in /var/lib/callpop"
kill -HUP "$daemon_pid"
for _ in $(seq 1 100); do [ "$(grep -c "READY=1" "$work/notify.log")" -ge 2 ] && break; sleep 0.05; done
grep -q "RELOADING=1" "$work/notify.log" || fail "SIGHUP sent no RELOADING=1"
[ "$(grep -c "READY=1" "$work/notify.log")" -ge 2 ] || fail "no READY=1 after the reload"
grep -q "passed its checks" "$work/daemon.log" || fail "the reload did not check the config: $(cat "$work/daemon.log")"
kill -0 "$daemon_pid" || fail "callpop died on SIGHUP: $(cat "$work/daemon.log")"
kill -TERM "$daemon_pid"
status=0
wait "$daemon_pid" || status=$?
daemon_pid=
[ "$status" = 0 ] || fail "callpop exited with $status on SIGTERM: $(cat "$work/daemon.log")"
wait "$listener_pid" || true
grep -q "STOPPING=1" "$work/notify.log" || fail "SIGTERM sent no STOPPING=1"
rm -rf "$socket_dir"

dpkg --purge callpop >/dev/null
[ ! -e /usr/bin/callpop ] || fail "purge left /usr/bin/callpop"
! getent passwd callpop >/dev/null || fail "purge left the callpop user"
echo "test_deb: installed, checked (systemd-analyze verify), started as the unit says, reloaded, stopped, purged"
