#!/usr/bin/env bash
# The networking lab's five users, for a person to try by hand: a chinwagd
# on a free port and five `chinwag` clients, A to E, in one tmux window
# (server log top left, then A to E).
#
#   scripts/demo.sh           start; attach when run from a terminal,
#                             otherwise print how to attach
#   scripts/demo.sh --check   start, check that A to E are connected and
#                             see each other, stop everything, exit 0
#   scripts/demo.sh stop [SESSION]
#                             stop the demo (every chinwag-demo-* session
#                             when no SESSION is given)
#   --cluster N               (before the above) N nodes (2 to 5) on a
#                             private redis-server instead of one chinwagd,
#                             the users spread over them; what
#                             scripts/cluster-demo.sh runs
#
# The server and the clients run inside the tmux session, so closing it
# (this script's `stop`, `tmux kill-session`, or Ctrl-b : kill-session)
# ends every process the demo started. Needs tmux (and, with --cluster,
# redis-server).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_NUMERIC=C # `read -t 0.2`

prefix=chinwag-demo
users=(A B C D E)

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

need_tmux() {
    command -v tmux >/dev/null 2>&1 && return 0
    echo "demo.sh: needs tmux, which is not installed." >&2
    echo "         Install it (Debian, Ubuntu: sudo apt-get install tmux) and run this again." >&2
    exit 1
}

# A pause without a process: `read -t` on a FIFO that nobody writes.
pause() { read -rt "$1" <>"$never" || true; }

# Process ids of every pane of a session.
pane_pids() { tmux list-panes -s -t "=$1" -F '#{pane_pid}' 2>/dev/null || true; }

# stop_session NAME: kills the session; tmux hangs up every pane, which ends
# the server and the clients. Waits (at most 5 s) until they are gone.
stop_session() {
    local name=$1 pids pid i
    pids=$(pane_pids "$name")
    tmux kill-session -t "=$name" 2>/dev/null || return 0
    for ((i = 0; i < 50; i++)); do
        local alive=()
        for pid in $pids; do
            kill -0 "$pid" 2>/dev/null && alive+=("$pid")
        done
        ((${#alive[@]} == 0)) && return 0
        pause 0.1
    done
    echo "demo.sh: still running after 5 s, killing: ${alive[*]}" >&2
    kill -KILL "${alive[@]}" 2>/dev/null || true
}

# ---------------------------------------------------------------- arguments

mode=start
stop_target=
nodes=0
if [[ ${1:-} == --cluster ]]; then
    nodes=${2:-}
    [[ $nodes =~ ^[2-5]$ ]] || { echo "demo.sh: --cluster takes 2 to 5 nodes" >&2; exit 2; }
    shift 2
fi
case ${1:-} in
    "") ;;
    --check) mode=check ;;
    stop | --stop) mode=stop; stop_target=${2:-} ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
esac

need_tmux
if ((nodes > 0)) && ! command -v redis-server >/dev/null 2>&1; then
    echo "demo.sh: --cluster needs redis-server, which is not installed." >&2
    echo "         Install it (Debian, Ubuntu: sudo apt-get install redis-server) and run this again." >&2
    exit 1
fi
never=$(mktemp -u "${TMPDIR:-/tmp}/chinwag-demo-never.XXXXXX")
mkfifo "$never"
cleanup_never() { rm -f "$never"; }
trap cleanup_never EXIT

if [[ $mode == stop ]]; then
    if [[ -n $stop_target ]]; then
        sessions=$stop_target
        tmux has-session -t "=$stop_target" 2>/dev/null || {
            echo "demo.sh: no tmux session $stop_target" >&2
            exit 1
        }
    else
        sessions=$(tmux list-sessions -F '#{session_name}' 2>/dev/null | grep "^$prefix-" || true)
    fi
    [[ -n $sessions ]] || { echo "demo.sh: no demo is running"; exit 0; }
    for s in $sessions; do
        stop_session "$s"
        echo "demo.sh: stopped $s"
    done
    exit 0
fi

# ---------------------------------------------------------------- start

echo "demo.sh: building chinwagd and chinwag (cargo build --release)"
cargo build --release --quiet -p server -p client
bin=${CARGO_TARGET_DIR:-target}/release
for exe in chinwagd chinwag; do
    [[ -x $bin/$exe ]] || { echo "demo.sh: $bin/$exe is missing after the build" >&2; exit 1; }
done
bin=$(cd "$bin" && pwd)

session=$prefix-$$
while tmux has-session -t "=$session" 2>/dev/null; do
    session=$prefix-$$-$RANDOM
done

# Until the demo is up (and in --check mode, always), leaving stops it.
started=false
on_exit() {
    $started || stop_session "$session"
    cleanup_never
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server: the first pane, its stderr (the log) on screen, its stdout
# (one line, `listening on IP:PORT`) in a file read once and removed. When
# it stops (Ctrl-C in its pane), its last log lines stay on screen and Enter
# ends the whole demo.
# shellcheck disable=SC2016 # $1 to $3 are sh's
server_script='
trap : INT # Ctrl-C is for chinwagd (which says goodbye to everyone), not for sh
"$1" --bind 127.0.0.1:0 --data none >"$2"
printf "\n[chinwagd exited with status %s] Enter: end the demo (closes every pane)\n" "$?"
read -r _
tmux kill-session -t "=$3"'
# The cluster: a redis-server on a free port (in a private directory,
# keeping nothing on disk), then the nodes one after the other; their
# logs share the pane, and the first line of the port file gives Redis's
# port and where the nodes listen, once they all do. Ctrl-C stops them all (and Redis).
# shellcheck disable=SC2016 # $1 to $5 are bash's
cluster_script='
trap : INT
# Redis ignores the hangup that closing the session sends: stop it (and
# the nodes) on the way out, however that comes.
stop() { kill $(jobs -p) 2>/dev/null; wait; rm -rf "$dir" "$portfile".*; }
trap "stop; exit 129" HUP
trap "stop; exit 143" TERM
bin=$1 portfile=$2 session=$3 nodes=$4 dir=$5
port=
for try in 1 2 3 4 5 6 7 8 9 10; do
    p=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && continue
    redis-server --port "$p" --bind 127.0.0.1 --save "" --appendonly no \
        --dir "$dir" --logfile "$dir/redis.log" &
    for i in $(seq 50); do
        redis-cli -p "$p" ping >/dev/null 2>&1 && { port=$p; break 2; }
        sleep 0.1
    done
    kill "$!" 2>/dev/null
done
if [ -n "$port" ]; then
    echo "[redis-server on 127.0.0.1:$port]"
    addrs=
    for k in $(seq "$nodes"); do
        "$1" --bind 127.0.0.1:0 --data none --cluster "redis://127.0.0.1:$port" --node-id "node$k" >"$portfile.$k" &
        for i in $(seq 100); do
            line=$(head -n 1 "$portfile.$k")
            case $line in "listening on "*) addrs="$addrs ${line#listening on }"; break ;; esac
            sleep 0.1
        done
    done
    echo "$port$addrs" >"$portfile"
    wait
else
    echo "[no free port for redis-server after 10 tries]"
fi
stop
printf "\n[the cluster stopped] Enter: end the demo (closes every pane)\n"
read -r _
tmux kill-session -t "=$3"'
portfile=$(mktemp "${TMPDIR:-/tmp}/chinwag-demo-port.XXXXXX")
if ((nodes > 0)); then
    cluster_dir=$(mktemp -d "${TMPDIR:-/tmp}/chinwag-demo-redis.XXXXXX")
    server_pane=$(tmux new-session -d -s "$session" -n chinwag -x 200 -y 50 -P -F '#{pane_id}' -- \
        bash -c "$cluster_script" bash "$bin/chinwagd" "$portfile" "$session" "$nodes" "$cluster_dir")
    tmux select-pane -t "$server_pane" -T "redis-server and $nodes chinwagd nodes (logs)"
else
    server_pane=$(tmux new-session -d -s "$session" -n chinwag -x 200 -y 50 -P -F '#{pane_id}' -- \
        sh -c "$server_script" sh "$bin/chinwagd" "$portfile" "$session")
    tmux select-pane -t "$server_pane" -T "chinwagd (log)"
fi
addrs=()
for ((i = 0; i < 300; i++)); do
    line=$(head -n 1 "$portfile")
    if ((nodes == 0)) && [[ $line == "listening on "* ]]; then
        addrs=("${line#listening on }")
        break
    fi
    if ((nodes > 0)) && [[ -n $line ]]; then
        read -r redis_port line <<<"$line"
        read -ra addrs <<<"$line"
        break
    fi
    tmux has-session -t "=$session" 2>/dev/null || break
    pause 0.1
done
rm -f "$portfile"
if ((${#addrs[@]} == 0 || (nodes > 0 && ${#addrs[@]} != nodes))); then
    echo "demo.sh: the server did not say where it listens within 30 s" >&2
    tmux capture-pane -p -t "$server_pane" >&2 2>/dev/null || true
    exit 1
fi
addr=${addrs[0]}

# A client pane: chinwag with its name; when it exits, the pane stays and
# offers to connect again without a name (chinwag then asks for one, so a
# taken name can be tried, as in step 3 of the lab).
# shellcheck disable=SC2016 # $1 to $3 are sh's
client_script='
trap : INT # Ctrl-C is for chinwag (it clears the line), not for sh
"$1" --server "$2" --name "$3"
status=$?
while :; do
    printf "\n[chinwag exited with status %s] Enter: connect again (you type the name); Ctrl-D: close this pane\n" "$status"
    read -r _ || exit 0
    "$1" --server "$2"
    status=$?
done'
declare -A pane where
last=$server_pane
n=0
for u in "${users[@]}"; do
    # In a cluster, A on the first node, B on the second, and so on.
    where[$u]=${addrs[n % ${#addrs[@]}]}
    n=$((n + 1))
    pane[$u]=$(tmux split-window -d -t "$last" -P -F '#{pane_id}' -- \
        sh -c "$client_script" sh "$bin/chinwag" "${where[$u]}" "$u")
    last=${pane[$u]}
    tmux select-pane -t "${pane[$u]}" -T "$u on ${where[$u]}"
    tmux select-layout -t "$server_pane" tiled >/dev/null
done
tmux set-option -w -t "$server_pane" pane-border-status top >/dev/null
tmux set-option -w -t "$server_pane" pane-border-format ' #{pane_title} ' >/dev/null
tmux select-pane -t "${pane[A]}"

# ---------------------------------------------------------------- check

# wait_for PANE TEXT: until the pane shows TEXT, at most 10 s.
wait_for() {
    local i
    for ((i = 0; i < 50; i++)); do
        tmux capture-pane -p -J -S - -t "$1" 2>/dev/null | grep -qF -- "$2" && return 0
        pause 0.2
    done
    return 1
}

check_failed() {
    echo "demo.sh --check: FAILED: $*" >&2
    local p
    for p in "$server_pane" "${pane[@]}"; do
        echo "--- pane $p" >&2
        tmux capture-pane -p -J -S - -t "$p" 2>/dev/null | grep -v '^$' >&2 || true
    done
    exit 1
}

if [[ $mode == check ]]; then
    echo "demo.sh --check: chinwagd on ${addrs[*]} in tmux session $session"
    for u in "${users[@]}"; do
        wait_for "${pane[$u]}" "welcome, $u!" || check_failed "client $u shows no \"welcome, $u!\""
        wait_for "${pane[$u]}" "menu>" || check_failed "client $u shows no menu> prompt"
        echo "  $u: connected to ${where[$u]}, named $u, at the menu"
    done
    tmux send-keys -t "${pane[A]}" -l /list
    tmux send-keys -t "${pane[A]}" Enter
    wait_for "${pane[A]}" "5 users online" || check_failed "A's /list does not show 5 users online"
    echo "  A: /list shows 5 users online"
    pids=$(pane_pids "$session")
    stop_session "$session"
    for pid in $pids; do
        if kill -0 "$pid" 2>/dev/null; then check_failed "process $pid still runs after stopping"; fi
    done
    for addr in "${addrs[@]}"; do
        if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then
            check_failed "chinwagd still accepts connections on $addr after stopping"
        fi
        if pgrep -f -- "--server $addr" >/dev/null; then
            check_failed "a chinwag for $addr still runs after stopping: $(pgrep -af -- "--server $addr")"
        fi
    done
    if ((nodes > 0)) && (exec 3<>"/dev/tcp/127.0.0.1/$redis_port") 2>/dev/null; then
        check_failed "redis-server still accepts connections on port $redis_port after stopping"
    fi
    echo "demo.sh --check: ok (session stopped, no process left)"
    exit 0
fi

started=true
cat <<EOF

chinwag demo: chinwagd on ${addrs[*]}, clients A B C D E in tmux session $session

  attach:  tmux attach -t $session
  stop:    scripts/demo.sh stop $session    (or, in tmux, Ctrl-b : kill-session)

In tmux, Ctrl-b and an arrow key moves between panes, Ctrl-b z zooms one,
Ctrl-b d detaches (the demo keeps running). The lab's steps:
  B: 2 A     A: yes     then type messages in A and B
  C: 1       (A and B are chatting with each other)
  C: 2 E     E: no
  C: 2 D     D: yes     then type messages in C and D
  E: 1       (A with B, C with D)
  A, D: /leave          E: 3 (exits)        A-D: 3
  group chat: /join lab in several panes; /leave to go back
  a taken name: after a client exits, press Enter in its pane and type A
A class (version 2; everything stays in memory while the demo runs):
  A: /register lab-pass-for-A   /join class   /topic week 3: sockets
  A: slides are up              A: /me waves
  B: /join class     (the room's past and topic come first)
  C: /join class     C: cheap watches here     A: /kick C spam
  A: /exit, then Enter in A's pane and type A: it asks for the password
  B: /away lunch     C: 1   (B is away)        D: /ignore C, then C: 2 D
EOF

if [[ -t 0 && -t 1 ]]; then
    read -r rows cols < <(stty size 2>/dev/null || echo "0 0")
    if ((cols > 0 && (cols < 150 || rows < 40))); then
        echo "(Your terminal is ${cols}x${rows}; six panes are easier to read in 150x40 or more.)"
        pause 2
    fi
    if [[ -n ${TMUX:-} ]]; then
        tmux switch-client -t "=$session"
    else
        tmux attach -t "=$session" || true
        if tmux has-session -t "=$session" 2>/dev/null; then
            echo "demo.sh: the demo is still running: tmux attach -t $session; scripts/demo.sh stop $session"
        fi
    fi
fi
