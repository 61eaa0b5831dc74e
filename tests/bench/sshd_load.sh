#!/usr/bin/env bash
# sshd under load, side by side with OpenSSH's sshd in the same run, with the same
# client (OpenSSH's ssh, the fixture key tests/fixtures/keys/id_ed25519):
#  - connections per second: N logins `ssh -o ControlMaster=no host true` one after
#    another, then N more from W parallel workers;
#  - memory per idle session: K sessions open at once (each runs `cat` on an idle
#    stdin, ended by closing that stdin), PSS and RSS of the server's sshd processes
#    minus the idle listener's, divided by K. Ours: per-connection process + monitor
#    (+ the listener's share); OpenSSH: its per-connection [priv] process + the user's
#    child.
#  - leaks: each listener's RSS, descriptor count and descendants before the load and
#    after it (asserted by bins/sshd/tests/load.rs; here they are printed).
#  - server CPU per login: the CPU time of each listener's reaped children over the
#    logins, divided by their number (the server's own cost, whatever the client's;
#    the ratio printed is OpenSSH's over ours, i.e. how many more logins per CPU second).
# Prints figures and ratios ours/OpenSSH. Nothing here asserts on time.
#
# The logins run in blocks of B alternating between the two servers (ours first in odd
# blocks, OpenSSH first in even ones), so that a change in the machine's load over the
# run hits both alike. The client sends SHLVL=1, which both servers accept, so that bash
# does not source ~/.bashrc for the command (a slow one — pyenv's takes 0.2 s here —
# would hide the servers' cost); RC=1 in the environment keeps the rc files. The client
# logs in as the current user, or as LOGIN=<user> (who needs a shell): OpenSSH keeps
# no privilege-separated child for a root login (one process per session), ours forks
# its monitor for any user.
#
# usage: tests/bench/sshd_load.sh [logins N (default 500)] [workers W (default 4)] [sessions K (default 50)] [block B (default 50)]
set -euo pipefail
cd "$(dirname "$0")/../.."
N=${1:-500}; W=${2:-4}; K=${3:-50}; B=${4:-50}
cargo build --release --locked -p oxssh-bin-sshd >&2
ours=$PWD/target/release/sshd
tmp=$(mktemp -d); pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"; }
trap cleanup EXIT
ssh-keygen -q -t ed25519 -N '' -f "$tmp/host"
install -m 600 tests/fixtures/keys/id_ed25519 "$tmp/id"
cp tests/fixtures/keys/id_ed25519.pub "$tmp/ak"; mkdir -p /run/sshd
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The server's processes, the listener and its descendants: "<sshd processes> <their PSS
# KiB> <their RSS KiB> <cat processes> <all processes>" (smaps_rollup; PSS counts shared
# pages once).
server_mem() { python3 - "$1" <<'PY'
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
n = pss = rss = cats = everyone = 0
todo = [root]
while todo:
    pid = todo.pop()
    todo += kids.get(pid, [])
    everyone += 1
    try:
        comm = open(f'/proc/{pid}/comm').read().strip()
        if comm == 'cat':
            cats += 1
        if comm.startswith('sshd'):
            n += 1
            for line in open(f'/proc/{pid}/smaps_rollup'):
                if line.startswith('Pss:'):
                    pss += int(line.split()[1])
                elif line.startswith('Rss:'):
                    rss += int(line.split()[1])
    except OSError:
        pass
print(n, pss, rss, cats, everyone)
PY
}
# The listener alone: "<VmRSS KiB> <descriptors> <descendants>".
listener() {
  local rss fds kids
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
  fds=$(ls "/proc/$1/fd" | wc -l)
  kids=$(( $(server_mem "$1" | cut -d' ' -f5) - 1 ))
  echo "$rss $fds $kids"
}
# Wait (up to 30 s) until the listener has no child left.
settle() { for _ in $(seq 300); do [ "$(listener "$1" | cut -d' ' -f3)" -eq 0 ] && break; sleep 0.1; done; }

start() { # binary -> sets $port and $spid (no subshell: the daemon and its pid stay ours)
  port=$(free_port)
  printf '%s\n' "ListenAddress 127.0.0.1:$port" "HostKey $tmp/host" "AuthorizedKeysFile $tmp/ak" \
    'StrictModes no' 'UsePAM no' 'PermitRootLogin yes' 'PidFile none' 'AcceptEnv SHLVL' \
    'MaxStartups 200' > "$tmp/cfg.$port"
  "$1" -D -f "$tmp/cfg.$port" -E "$tmp/log.$port" & pids+=($!); spid=$!
  for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
  settle "$spid"
}
start /usr/sbin/sshd; p_openssh=$port; pid_openssh=$spid
start "$ours"; p_ours=$port; pid_ours=$spid
printf '[127.0.0.1]:%s %s\n[127.0.0.1]:%s %s\n' "$p_openssh" "$(cut -d' ' -f1,2 "$tmp/host.pub")" "$p_ours" "$(cut -d' ' -f1,2 "$tmp/host.pub")" > "$tmp/kh"
sshargs=(-F /dev/null -i "$tmp/id" -o IdentitiesOnly=yes -o UserKnownHostsFile="$tmp/kh" -o StrictHostKeyChecking=yes
         -o BatchMode=yes -o ControlMaster=no -l "${LOGIN:-$(id -un)}")
[ "${RC:-0}" = 1 ] || sshargs+=(-o SetEnv=SHLVL=1)
before_openssh=$(listener "$pid_openssh"); before_ours=$(listener "$pid_ours")
now() { date +%s.%N; }
load() { uptime | sed 's/.*load average: //'; }
echo "load average at start: $(load); $(nproc) cores" >&2

# n logins to port, one after another; prints the number that failed.
logins() { local f=0; for _ in $(seq "$2"); do /usr/bin/ssh "${sshargs[@]}" -p "$1" 127.0.0.1 true || f=$((f+1)); done; echo "$f"; }
# n logins to port from W workers at once; prints the number that failed.
logins_parallel() {
  local w f=0 out=()
  for w in $(seq "$W"); do
    out+=("$tmp/par.$1.$w"); logins "$1" $(( $2 / W + (w <= $2 % W ? 1 : 0) )) > "$tmp/par.$1.$w" &
  done
  wait; for w in "${out[@]}"; do f=$((f + $(cat "$w"))); done; echo "$f"
}
# One block of n logins (mode seq|par) to a server: adds its time and failures.
declare -A secs fails
block() { # mode name port n
  local t0 t1 f
  t0=$(now)
  if [ "$1" = seq ]; then f=$(logins "$3" "$4"); else f=$(logins_parallel "$3" "$4"); fi
  t1=$(now)
  secs[$1.$2]=$(awk "BEGIN{print ${secs[$1.$2]:-0} + $t1 - $t0}"); fails[$1.$2]=$(( ${fails[$1.$2]:-0} + f ))
}
rate() { # mode
  local done=0 n i=0
  while [ "$done" -lt "$N" ]; do
    n=$(( N - done < B ? N - done : B )); i=$((i+1))
    if (( i % 2 )); then block "$1" ours "$p_ours" "$n"; block "$1" openssh "$p_openssh" "$n"
    else block "$1" openssh "$p_openssh" "$n"; block "$1" ours "$p_ours" "$n"; fi
    done=$((done + n))
  done
}
# CPU time of a listener's reaped children (the per-connection processes, their
# helpers and the users' commands), in clock ticks.
child_cpu() { awk '{print $16 + $17}' "/proc/$1/stat"; }
cpu0_openssh=$(child_cpu "$pid_openssh"); cpu0_ours=$(child_cpu "$pid_ours")
rate seq; load_seq=$(load)
rate par; load_par=$(load)
settle "$pid_openssh"; settle "$pid_ours"
tick=$(getconf CLK_TCK)
cpu_openssh=$(awk "BEGIN{print ($(child_cpu "$pid_openssh") - $cpu0_openssh) * 1000 / $tick / (2 * $N)}")
cpu_ours=$(awk "BEGIN{print ($(child_cpu "$pid_ours") - $cpu0_ours) * 1000 / $tick / (2 * $N)}")

printf '\n%-40s %12s %12s %8s %12s\n' "logins per second ($N each)" "OpenSSH" "ours" "ratio" "failed O/o"
for m in seq par; do
  if [ $m = seq ]; then label='one after another'; else label="from $W parallel workers"; fi
  o=$(awk "BEGIN{print $N / ${secs[$m.openssh]}}"); u=$(awk "BEGIN{print $N / ${secs[$m.ours]}}")
  printf '%-40s %12.2f %12.2f %8.2f %12s\n' "$label" "$o" "$u" "$(awk "BEGIN{print $u / $o}")" "${fails[$m.openssh]}/${fails[$m.ours]}"
done
echo "load average after the sequential logins: $load_seq; after the parallel ones: $load_par"
printf '%-40s %12.1f %12.1f %8.2f\n' "server CPU ms per login (capacity: 1/x)" "$cpu_openssh" "$cpu_ours" \
  "$(awk "BEGIN{print $cpu_openssh / ($cpu_ours > 0 ? $cpu_ours : 1)}")"

# Memory per idle session: K sessions held open by one fifo each server; closing it
# ends them all.
mem() { # pid port -> "<sshd processes per session> <PSS KiB per session> <RSS KiB per session>"
  local idle busy cpids=() i ok=0
  settle "$1"; idle=$(server_mem "$1")
  mkfifo "$tmp/hold.$2"
  for i in $(seq "$K"); do
    /usr/bin/ssh "${sshargs[@]}" -p "$2" 127.0.0.1 cat < "$tmp/hold.$2" > /dev/null & cpids+=($!)
  done
  exec 3> "$tmp/hold.$2"
  for i in $(seq 1200); do
    [ "$(server_mem "$1" | cut -d' ' -f4)" -ge "$K" ] && { ok=1; break; }; sleep 0.1
  done
  [ "$ok" = 1 ] || echo "only $(server_mem "$1" | cut -d' ' -f4) of $K sessions came up" >&2
  sleep 2; busy=$(server_mem "$1")
  exec 3>&-
  wait "${cpids[@]}" || echo "a session to port $2 failed" >&2
  read -r n0 p0 r0 _ <<<"$idle"; read -r n1 p1 r1 _ <<<"$busy"
  awk "BEGIN{printf \"%.1f %d %d\", ($n1 - $n0) / $K, ($p1 - $p0) / $K, ($r1 - $r0) / $K}"
}
read -r n_o pss_o rss_o <<<"$(mem "$pid_openssh" "$p_openssh")"
read -r n_u pss_u rss_u <<<"$(mem "$pid_ours" "$p_ours")"
printf '\n%-40s %12s %12s %8s\n' "memory per idle session ($K open)" "OpenSSH" "ours" "ratio"
printf '%-40s %12s %12s %8s\n' "sshd processes per session" "$n_o" "$n_u" ""
printf '%-40s %12d %12d %8.2f\n' "KiB PSS per session" "$pss_o" "$pss_u" "$(awk "BEGIN{print $pss_u / $pss_o}")"
printf '%-40s %12d %12d %8.2f\n' "KiB RSS per session" "$rss_o" "$rss_u" "$(awk "BEGIN{print $rss_u / $rss_o}")"

settle "$pid_openssh"; settle "$pid_ours"
after_openssh=$(listener "$pid_openssh"); after_ours=$(listener "$pid_ours")
printf '\n%-40s %20s %20s\n' "listener after $((2 * N + K)) connections" "OpenSSH" "ours"
for i in 1 2 3; do
  label=$(sed -n "${i}p" <<<$'VmRSS KiB (before -> after)\ndescriptors (before -> after)\nchild processes (before -> after)')
  printf '%-40s %20s %20s\n' "$label" "$(cut -d' ' -f$i <<<"$before_openssh") -> $(cut -d' ' -f$i <<<"$after_openssh")" \
    "$(cut -d' ' -f$i <<<"$before_ours") -> $(cut -d' ' -f$i <<<"$after_ours")"
done
echo "load average at the end: $(load)"
