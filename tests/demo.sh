#!/usr/bin/env bash
# The main job, end to end: build the release binaries, make fresh keys in a temp dir,
# start OUR sshd as the current user on a free 127.0.0.1 port, use OUR clients against
# it, then stop the server and clean up. Exits non-zero if any step fails.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== building release binaries"
cargo build --release --workspace --bins --locked
bin=$PWD/target/release

tmp=$(mktemp -d "${TMPDIR:-/tmp}/oxssh-demo.XXXXXX")
sshd_pid=
cleanup() {
  if [ -n "$sshd_pid" ]; then kill "$sshd_pid" 2>/dev/null || true; wait "$sshd_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT

# Keys: ours if our ssh-keygen exists, else OpenSSH's (said out loud, never hidden).
keygen="$bin/ssh-keygen"
if "$keygen" -q -t ed25519 -N '' -C demo-probe -f "$tmp/probe" >/dev/null 2>&1; then
  echo "== making fresh keys with our ssh-keygen"
else
  keygen=$(command -v ssh-keygen || true)
  [ -n "$keygen" ] || { echo "demo: needs ssh-keygen: apt-get install -y openssh-client" >&2; exit 1; }
  echo "== our ssh-keygen is not implemented yet: making fresh keys with OpenSSH's ($keygen)"
fi
"$keygen" -q -t ed25519 -N '' -C demo-host -f "$tmp/host_ed25519"
"$keygen" -q -t ed25519 -N '' -C demo-user -f "$tmp/id_ed25519"
cp "$tmp/id_ed25519.pub" "$tmp/authorized_keys"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=$(id -un)
cat > "$tmp/sshd_config" <<CFG
Port $port
ListenAddress 127.0.0.1
HostKey $tmp/host_ed25519
PidFile $tmp/sshd.pid
AuthorizedKeysFile $tmp/authorized_keys
StrictModes no
UsePAM no
PermitRootLogin prohibit-password
CFG
printf '[127.0.0.1]:%s %s\n' "$port" "$(cut -d' ' -f1,2 "$tmp/host_ed25519.pub")" > "$tmp/known_hosts"

echo "== starting our sshd on 127.0.0.1:$port as $user"
"$bin/sshd" -D -e -f "$tmp/sshd_config" 2>"$tmp/sshd.log" &
sshd_pid=$!
for _ in $(seq 100); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  kill -0 "$sshd_pid" 2>/dev/null || { echo "demo: sshd exited:" >&2; cat "$tmp/sshd.log" >&2; exit 1; }
  sleep 0.1
done

ssh=("$bin/ssh" -p "$port" -i "$tmp/id_ed25519" -o BatchMode=yes
     -o UserKnownHostsFile="$tmp/known_hosts" -o StrictHostKeyChecking=yes "$user@127.0.0.1")

echo "== our ssh: uname -a"
"${ssh[@]}" uname -a

echo "== our ssh: 16 MiB through 'cat' and back"
head -c 16777216 /dev/urandom > "$tmp/data"
"${ssh[@]}" cat < "$tmp/data" > "$tmp/data.back"
cmp "$tmp/data" "$tmp/data.back" && echo "round trip OK ($(sha256sum < "$tmp/data" | cut -c1-16)…)"

echo "== our ssh: exit status of the remote command"
set +e; "${ssh[@]}" 'exit 3'; rc=$?; set -e
[ "$rc" = 3 ] && echo "remote 'exit 3' gave exit status $rc"

echo "== stopping sshd; demo passed"
