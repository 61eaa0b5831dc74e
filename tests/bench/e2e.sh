#!/usr/bin/env bash
# End-to-end benchmark, side by side with OpenSSH in the same run: bulk throughput of
# `ssh host 'cat > /dev/null' < N MiB file` (up) and `ssh host 'cat file' > /dev/null`
# (down), and connect-authenticate-exec-exit latency of `ssh host true`, for every
# client/server pairing (OpenSSH or ours on each side).
# Prints MiB/s, ms, and ratios against OpenSSH↔OpenSSH. Nothing here asserts on time.
#
# usage: tests/bench/e2e.sh [MiB (default 1024)] [cipher (default chacha20-poly1305@openssh.com)] [latency runs (default 20)]
# TP_ROUNDS=n (default 3): throughput rounds, of which the median is reported.
# SOURCE=pipe: upload from `head -c N /dev/zero |` instead of a file.
set -euo pipefail
cd "$(dirname "$0")/../.."
MIB=${1:-1024}; CIPHER=${2:-chacha20-poly1305@openssh.com}; RUNS=${3:-20}
cargo build --release --locked -p oxssh-bin-ssh -p oxssh-bin-sshd >&2
ours=$PWD/target/release
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host"; ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/ak"; mkdir -p /run/sshd
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# Memory of a server's sshd processes (the listener's descendants named sshd), in KiB
# of PSS, so shared pages are counted once.
server_pss() { python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1])
kids = {}
for p in os.listdir('/proc'):
    if p.isdigit():
        try:
            st = open(f'/proc/{p}/stat').read()
            ppid = int(st.rsplit(')', 1)[1].split()[1])
            kids.setdefault(ppid, []).append(int(p))
        except OSError:
            pass
total, todo = 0, [root]
while todo:
    pid = todo.pop()
    todo += kids.get(pid, [])
    try:
        if open(f'/proc/{pid}/comm').read().strip().startswith('sshd'):
            for line in open(f'/proc/{pid}/smaps_rollup'):
                if line.startswith('Pss:'):
                    total += int(line.split()[1])
    except OSError:
        pass
print(total)
PY
}
start() { # binary -> sets $port (no subshell: the daemon and its pid stay ours)
  port=$(free_port)
  printf 'ListenAddress 127.0.0.1:%s\nHostKey %s\nAuthorizedKeysFile %s\nStrictModes no\nUsePAM no\nPermitRootLogin yes\nPidFile none\n' \
    "$port" "$tmp/host" "$tmp/ak" > "$tmp/cfg.$port"
  "$1" -D -f "$tmp/cfg.$port" -E "$tmp/log.$port" & pids+=($!); spid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
}
start /usr/sbin/sshd; p_openssh=$port; pid_openssh=$spid
start "$ours/sshd"; p_ours=$port; pid_ours=$spid
printf '[127.0.0.1]:%s %s\n[127.0.0.1]:%s %s\n' "$p_openssh" "$(cut -d' ' -f1,2 "$tmp/host.pub")" "$p_ours" "$(cut -d' ' -f1,2 "$tmp/host.pub")" > "$tmp/kh"
sshargs=(-i "$tmp/id" -o UserKnownHostsFile="$tmp/kh" -o StrictHostKeyChecking=yes -o BatchMode=yes -o Ciphers="$CIPHER")
now() { date +%s.%N; }
pairs=("/usr/bin/ssh:$p_openssh:OpenSSH -> OpenSSH" "$ours/ssh:$p_ours:ours -> ours" "$ours/ssh:$p_openssh:ours -> OpenSSH" "/usr/bin/ssh:$p_ours:OpenSSH -> ours")
# Throughput: TP_ROUNDS rounds (default 3), each timing every pair once in turn, so that
# the machine's load changing over the run hits all pairs alike; the median is reported.
# Upload, as the protocol issue words it: `ssh host 'cat > /dev/null' < file` of N MiB;
# download: `ssh host 'cat file' > /dev/null`. The file is written once and then read
# from the page cache. SOURCE=pipe feeds the upload from `head -c N /dev/zero |` instead
# (a pipe, and a `head` process sharing the two cores).
head -c $((MIB*1024*1024)) /dev/zero > "$tmp/data"
declare -A up down
for _ in $(seq "${TP_ROUNDS:-3}"); do
  for pair in "${pairs[@]}"; do
    IFS=: read -r client port label <<<"$pair"
    if [ "${SOURCE:-file}" = pipe ]; then
      t0=$(now); head -c $((MIB*1024*1024)) /dev/zero | "$client" "${sshargs[@]}" -p "$port" "$(id -un)@127.0.0.1" 'cat > /dev/null'; t1=$(now)
    else
      t0=$(now); "$client" "${sshargs[@]}" -p "$port" "$(id -un)@127.0.0.1" 'cat > /dev/null' < "$tmp/data"; t1=$(now)
    fi
    up[$label]+="$(awk "BEGIN{print $MIB / ($t1 - $t0)}") "
    t0=$(now); "$client" "${sshargs[@]}" -p "$port" "$(id -un)@127.0.0.1" "cat $tmp/data" > /dev/null; t1=$(now)
    down[$label]+="$(awk "BEGIN{print $MIB / ($t1 - $t0)}") "
  done
done
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END{print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
printf '%-24s %9s %7s %11s %7s %9s %7s\n' "client -> server" "up MiB/s" "ratio" "down MiB/s" "ratio" "ms/login" "ratio"
base_up=; base_down=; base_lat=
for pair in "${pairs[@]}"; do
  IFS=: read -r client port label <<<"$pair"
  u=$(median <<<"${up[$label]}"); d=$(median <<<"${down[$label]}")
  t0=$(now); for _ in $(seq "$RUNS"); do "$client" "${sshargs[@]}" -p "$port" "$(id -un)@127.0.0.1" true; done; t1=$(now)
  lat=$(awk "BEGIN{print ($t1 - $t0) * 1000 / $RUNS}")
  [ -n "$base_up" ] || { base_up=$u; base_down=$d; base_lat=$lat; }
  printf '%-24s %9.1f %7.2f %11.1f %7.2f %9.1f %7.2f\n' "$label" "$u" "$(awk "BEGIN{print $u / $base_up}")" "$d" "$(awk "BEGIN{print $d / $base_down}")" "$lat" "$(awk "BEGIN{print $lat / $base_lat}")"
done
echo "(throughput: median of ${TP_ROUNDS:-3} rounds; every round: ${up[OpenSSH -> OpenSSH]}| ${up[ours -> ours]}MiB/s up, OpenSSH | ours)"
# The same comparison round by round: each round times the pairs one after the other, so
# the ratio within a round is the least touched by the machine's speed drifting.
paired() { paste -d' ' <(tr ' ' '\n' <<<"$1" | grep .) <(tr ' ' '\n' <<<"$2" | grep .) | awk '{printf "%.2f ", $2 / $1}'; }
for dir in up down; do
  declare -n tp=$dir
  r=$(paired "${tp[OpenSSH -> OpenSSH]}" "${tp[ours -> ours]}")
  echo "ours <-> ours / OpenSSH <-> OpenSSH, $dir, per round: $r(median $(median <<<"$r"))"
done

# Memory per idle session: N sessions running `sleep`, server-side PSS above the idle
# listener, divided by N. Each server is measured with OpenSSH's client.
N=10
printf '\n%-28s %14s %10s\n' "server" "KiB/session" "ratio"
base_mem=
for pair in "$pid_openssh:$p_openssh:OpenSSH sshd" "$pid_ours:$p_ours:our sshd"; do
  IFS=: read -r spid port label <<<"$pair"
  idle=$(server_pss "$spid")
  cpids=()
  for _ in $(seq "$N"); do
    /usr/bin/ssh "${sshargs[@]}" -p "$port" "$(id -un)@127.0.0.1" 'sleep 30' & cpids+=($!)
  done
  sleep 4
  busy=$(server_pss "$spid")
  kill "${cpids[@]}" 2>/dev/null || true; wait "${cpids[@]}" 2>/dev/null || true
  per=$(( (busy - idle) / N ))
  [ -n "$base_mem" ] || base_mem=$per
  printf '%-28s %14d %10.2f\n' "$label" "$per" "$(awk "BEGIN{print $per / $base_mem}")"
done
