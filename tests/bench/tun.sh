#!/usr/bin/env bash
# Tunnel forwarding throughput, ours against OpenSSH in the same run:
#   tests/bench/tun.sh [MiB] [rounds] [point-to-point|ethernet]
# Needs root, /dev/net/tun, iproute2, python3, OpenSSH (apt-get install -y
# openssh-client openssh-server) and our release binaries (cargo build --release).
# Two network namespaces of its own (removed at exit): ssh runs in one, sshd (in inetd
# mode, through ProxyCommand) in the other; `ssh -w 0:0 -N` joins them, and a TCP
# stream of MiB mebibytes goes through the tunnel, client to server, checked by
# SHA-256. Prints MiB/s per pair and round, then the medians and ours/OpenSSH.
set -euo pipefail
cd "$(dirname "$0")/../.."
mib=${1:-256}; rounds=${2:-3}; mode=${3:-point-to-point}
ours=$PWD/target/release
for b in "$ours/ssh" "$ours/sshd" /usr/bin/ssh /usr/sbin/sshd; do
  [ -x "$b" ] || { echo "missing $b (cargo build --release; apt-get install -y openssh-client openssh-server)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "needs root (tun devices, network namespaces)" >&2; exit 1; }
dir=$(mktemp -d); c=oxssh-bench-c-$$; s=oxssh-bench-s-$$
trap 'ip netns del $c 2>/dev/null; ip netns del $s 2>/dev/null; rm -rf "$dir"' EXIT
ip netns add $c; ip netns add $s
ssh-keygen -q -t ed25519 -N '' -f "$dir/hk"; ssh-keygen -q -t ed25519 -N '' -f "$dir/id"
cp "$dir/id.pub" "$dir/ak"; echo "localhost $(cat "$dir/hk.pub")" > "$dir/kh"
printf 'HostKey %s\nAuthorizedKeysFile %s\nPermitRootLogin yes\nPermitTunnel yes\nStrictModes no\nUsePAM no\n' \
  "$dir/hk" "$dir/ak" > "$dir/sshd_config"
dev=tun0; [ "$mode" = ethernet ] && dev=tap0
cat > "$dir/srv.py" <<'PY'
import socket, hashlib, sys
s = socket.socket(sys.argv[2] == "6" and socket.AF_INET6 or socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind((sys.argv[1], 5001)); s.listen(1); s.settimeout(60)
c, _ = s.accept(); h = hashlib.sha256()
while True:
    d = c.recv(1 << 16)
    if not d: break
    h.update(d)
c.sendall(h.hexdigest().encode()); c.close()
PY
cat > "$dir/cli.py" <<'PY'
import socket, hashlib, sys, time
n = int(sys.argv[2]) << 20; chunk = bytes(range(256)) * 4096; h = hashlib.sha256()
c = socket.create_connection((sys.argv[1], 5001), timeout=60); t = time.time(); sent = 0
while sent < n:
    b = chunk[: min(len(chunk), n - sent)]; c.sendall(b); h.update(b); sent += len(b)
c.shutdown(socket.SHUT_WR); r = c.recv(100).decode(); dt = time.time() - t
assert r == h.hexdigest(), "corrupted"
print("%.1f" % (n / dt / 1048576))
PY
run() { # ssh sshd -> MiB/s
  ip netns exec $c "$1" -F none -i "$dir/id" -o UserKnownHostsFile="$dir/kh" -o StrictHostKeyChecking=yes \
    -o Tunnel="$mode" -o Ciphers=chacha20-poly1305@openssh.com -o BatchMode=yes \
    -o "ProxyCommand=ip netns exec $s $2 -i -f $dir/sshd_config" -w 0:0 -N root@localhost 2>/dev/null &
  local pid=$!
  for _ in $(seq 50); do
    ip -n $c link show $dev >/dev/null 2>&1 && ip -n $s link show $dev >/dev/null 2>&1 && break; sleep 0.1
  done
  ip -n $c addr add 10.79.0.1/24 dev $dev; ip -n $c link set $dev up
  ip -n $s addr add 10.79.0.2/24 dev $dev; ip -n $s link set $dev up
  ip netns exec $s python3 "$dir/srv.py" 10.79.0.2 4 & local srv=$!
  sleep 0.3
  ip netns exec $c python3 "$dir/cli.py" 10.79.0.2 "$mib"
  wait $srv; kill $pid; wait $pid 2>/dev/null || true
  # Both ends' devices go with their processes; the next round needs unit 0 again.
  for _ in $(seq 100); do
    ip -n $c link show $dev >/dev/null 2>&1 || { ip -n $s link show $dev >/dev/null 2>&1 || break; }
    sleep 0.1
  done
}
declare -a o_res s_res
for r in $(seq "$rounds"); do
  ro=$(run /usr/bin/ssh /usr/sbin/sshd); rs=$(run "$ours/ssh" "$ours/sshd")
  echo "round $r: OpenSSH $ro MiB/s, oxssh $rs MiB/s"; o_res+=("$ro"); s_res+=("$rs")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mo=$(median "${o_res[@]}"); ms=$(median "${s_res[@]}")
echo "median ($mib MiB, $mode): OpenSSH $mo MiB/s, oxssh $ms MiB/s, ratio $(awk -v a="$ms" -v b="$mo" 'BEGIN {printf "%.2f", a/b}')"
