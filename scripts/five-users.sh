#!/usr/bin/env bash
# The networking lab's five users, A to E, headless: starts its own chinwagd
# on a free port, drives five real `chinwag --raw` clients through pipes,
# prints a transcript of who sent and received what, and checks every
# protocol line against docs/protocol.md. Exits 0 only if all of it happened.
#
#   scripts/five-users.sh [lab|rooms|class|all] [-v]
#
#   lab    the lab report's twelve steps (one-to-one chats)
#   rooms  the five users in a group room
#   class  version 2: a registered name, a room's history and topic, /me,
#          a kick, and signing back in
#   all    all three, one after the other (the default)
#   -v     also show the INFO prose and, at the end, the server's log
#
# Every wait is for an expected line, with a timeout (CHINWAG_STEP_TIMEOUT,
# 5 s); a whole run is stopped after CHINWAG_RUN_TIMEOUT (60 s, not counting
# the build). Everything it starts is stopped when it exits. Any line a
# user gets that the step does not expect (other than INFO prose) fails it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export LC_NUMERIC=C # `read -t 0.05` everywhere

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

scenario=all
verbose=false
for arg in "$@"; do
    case $arg in
        lab | rooms | class | all) scenario=$arg ;;
        -v | --verbose) verbose=true ;;
        -h | --help) usage; exit 0 ;;
        *) usage >&2; exit 2 ;;
    esac
done

step_timeout=${CHINWAG_STEP_TIMEOUT:-5}
run_timeout=${CHINWAG_RUN_TIMEOUT:-60}
[[ $step_timeout =~ ^[1-9][0-9]*$ && $run_timeout =~ ^[1-9][0-9]*$ ]] ||
    { echo "five-users: CHINWAG_STEP_TIMEOUT and CHINWAG_RUN_TIMEOUT are whole seconds" >&2; exit 2; }

echo "five-users: building chinwagd and chinwag (cargo build --release)" >&2
cargo build --release --quiet -p server -p client
bin=${CARGO_TARGET_DIR:-$PWD/target}/release
for exe in chinwagd chinwag; do
    [[ -x $bin/$exe ]] || { echo "five-users: $bin/$exe is missing after the build" >&2; exit 1; }
done

# ---------------------------------------------------------------- clean-up

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chinwag-five-users.XXXXXX")
server_pid=
watchdog_pid=
declare -A IN OUT PID # per user: fd to its stdin, fd from its stdout, pid

stop_all() {
    # Not `trap -`: a signal now must not cut the clean-up short. (A trap,
    # not '', so that the killer below still dies of SIGTERM.)
    trap : INT TERM
    trap - EXIT
    local u pid
    [[ -z $watchdog_pid ]] || kill "$watchdog_pid" 2>/dev/null || true
    for u in "${!PID[@]}"; do
        kill "${PID[$u]}" 2>/dev/null || true
    done
    if [[ -n $server_pid ]]; then
        # chinwagd exits within two seconds of SIGTERM; after three, SIGKILL.
        # (`wait`, not a `kill -0` loop: inside a trap an exited child stays
        # a zombie, which `kill -0` still finds.)
        kill -TERM "$server_pid" 2>/dev/null || true
        (read -rt 3 <>"$tmp/never" || kill -KILL "$server_pid" 2>/dev/null) &
        local killer=$!
        wait "$server_pid" 2>/dev/null || true
        kill "$killer" 2>/dev/null || true
    fi
    for pid in "${PID[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$tmp"
}
trap stop_all EXIT
trap 'echo "five-users: interrupted" >&2; exit 130' INT
trap 'echo "five-users: gave up after ${run_timeout} s (CHINWAG_RUN_TIMEOUT)" >&2; show_logs; exit 1' TERM

# A FIFO nobody writes: `read -t` on it is a sleep without a process.
mkfifo "$tmp/never"
(read -rt "$run_timeout" <>"$tmp/never" || kill -TERM $$) &
watchdog_pid=$!

# A client that has gone away makes our writes fail instead of killing us.
trap '' PIPE

# ---------------------------------------------------------------- output

scene=
step_no=0

step() {
    step_no=$1
    shift
    printf '\n%s step %s: %s\n' "${scene:+[$scene]}" "$step_no" "$*"
}

show_logs() {
    local f
    for f in "$tmp"/*.err; do
        if [[ -s $f ]]; then
            echo "--- stderr of ${f##*/}"
            cat "$f"
        fi
    done >&2
    if [[ -s $tmp/server.log ]]; then
        echo "--- last lines of the server's log" >&2
        tail -n 20 "$tmp/server.log" >&2
    fi
}

fail() {
    printf '%s step %s failed: %s\n' "${scene:+[$scene]}" "$step_no" "$*" >&2
    show_logs
    exit 1
}

# ---------------------------------------------------------------- users

now_us() { REPLY=${EPOCHREALTIME//[!0-9]/}; }

# start_server: chinwagd on a free port; sets addr.
start_server() {
    mkfifo "$tmp/server.out"
    "$bin/chinwagd" --bind 127.0.0.1:0 --data "$tmp/data" >"$tmp/server.out" 2>"$tmp/server.log" &
    server_pid=$!
    exec {server_out}<"$tmp/server.out"
    local line=
    IFS= read -r -t "$step_timeout" -u "$server_out" line || true
    [[ $line == "listening on "* ]] ||
        fail "expected \"listening on IP:PORT\" from chinwagd, got \"$line\""
    addr=${line#listening on }
    echo "  chinwagd    listening on $addr (pid $server_pid)"
}

# connect U [--name]: starts U's client; with --name it takes the name U
# itself, otherwise the first line sent is the name.
connect() {
    local u=$1 args=(--server "$addr" --raw)
    [[ ${2:-} == --name ]] && args+=(--name "$u")
    rm -f "$tmp/$u.in" "$tmp/$u.out"
    mkfifo "$tmp/$u.in" "$tmp/$u.out"
    local fd
    (
        # Not the other users' pipes: a copy held here would keep them open.
        for fd in "${IN[@]}" "${OUT[@]}"; do exec {fd}>&-; done
        exec "$bin/chinwag" "${args[@]}" <"$tmp/$u.in" >"$tmp/$u.out" 2>"$tmp/$u.err"
    ) &
    PID[$u]=$!
    exec {fd}>"$tmp/$u.in"
    IN[$u]=$fd
    exec {fd}<"$tmp/$u.out"
    OUT[$u]=$fd
    printf '  %-2s runs      chinwag %s\n' "$u" "${args[*]}"
}

send() {
    local u=$1 line=$2
    $quiet || printf '  %-2s sends     %s\n' "$u" "$line"
    { printf '%s\n' "$line" >&"${IN[$u]}"; } 2>/dev/null ||
        fail "could not send \"$line\" as $u: its chinwag has exited"
}

# Whether a received line is the expected one: MSG and ROOM lines exactly,
# HISTORY lines as a pattern (their time stamp is a `*`), other lines by
# tag and fields (the prose after them is not checked).
matches() {
    case $2 in
        MSG\ * | ROOM\ * | ACTION\ * | TOPIC\ * | KICKED\ *) [[ $1 == "$2" ]] ;;
        HISTORY\ *)
            # shellcheck disable=SC2053 # the expected HISTORY line is a pattern
            [[ $1 == $2 ]] ;;
        *) [[ $1 == "$2" || $1 == "$2 "* ]] ;;
    esac
}

# expect U LINE...: each LINE must be U's next line, in order, each within
# the step timeout; INFO lines (prose) in between are skipped.
expect() {
    local u=$1 want got rc left
    shift
    for want in "$@"; do
        now_us
        local deadline=$((REPLY + step_timeout * 1000000))
        while :; do
            now_us
            left=$(((deadline - REPLY + 999999) / 1000000))
            ((left > 0)) || fail "expected \"$want\" from $u, got nothing within ${step_timeout} s"
            got=
            rc=0
            IFS= read -r -t "$left" -u "${OUT[$u]}" got || rc=$?
            got=${got%$'\r'}
            if ((rc > 128)); then
                continue # timed out; the loop above reports it
            elif ((rc != 0)) && [[ -z $got ]]; then
                fail "expected \"$want\" from $u, got the end of its output ($(client_status "$u"))"
            fi
            if [[ $got == INFO || $got == "INFO "* ]]; then
                $verbose && printf '  %-2s gets      %s\n' "$u" "$got"
                continue
            fi
            matches "$got" "$want" || fail "expected \"$want\" from $u, got \"$got\""
            $quiet || printf '  %-2s gets      %s\n' "$u" "$got"
            break
        done
    done
}

client_status() {
    local rc=0
    wait "${PID[$1]}" || rc=$?
    unset 'PID[$1]'
    printf 'chinwag exited with status %s' "$rc"
    [[ -s $tmp/$1.err ]] && printf ': %s' "$(tr '\n' ' ' <"$tmp/$1.err")"
}

# ping U...: a barrier: the server has answered everything U sent before,
# and U got nothing unexpected meanwhile. Shown as one line.
ping_no=0
quiet=false
ping() {
    local u
    for u in "$@"; do
        ping_no=$((ping_no + 1))
        quiet=true
        send "$u" "/ping p$ping_no"
        expect "$u" "OK ping p$ping_no"
        quiet=false
        printf '  %-2s pings     /ping p%s  ->  OK ping p%s\n' "$u" "$ping_no" "$ping_no"
    done
}

# say U TEXT TO...: U sends a message; every TO gets it (MSG in a chat,
# ROOM in room $room when one is set); then a ping shows U got no error.
room=
say() {
    local u=$1 text=$2 to
    shift 2
    send "$u" "$text"
    for to in "$@"; do
        if [[ -n $room ]]; then
            expect "$to" "ROOM $room $u $text"
        else
            expect "$to" "MSG $u $text"
        fi
    done
    ping "$u"
}

# finished U: U's BYE has come; nothing may follow, and chinwag must exit 0.
finished() {
    local u=$1 got='' rc=0
    expect "$u" "BYE exit"
    IFS= read -r -t "$step_timeout" -u "${OUT[$u]}" got || rc=$?
    ((rc > 128)) && fail "expected $u's chinwag to exit after BYE; it is still running after ${step_timeout} s"
    [[ -z $got ]] || fail "expected nothing from $u after BYE, got \"$got\""
    rc=0
    wait "${PID[$u]}" || rc=$?
    unset 'PID[$u]'
    ((rc == 0)) || fail "expected $u's chinwag to exit with status 0, got $rc"
    printf '  %-2s           (chinwag exited with status 0)\n' "$u"
    close_input "$u"
    local fd=${OUT[$u]}
    exec {fd}<&-
    unset 'OUT[$u]'
}

close_input() {
    [[ -n ${IN[$1]:-} ]] || return 0
    local fd=${IN[$1]}
    exec {fd}>&-
    unset 'IN[$1]'
}

# ---------------------------------------------------------------- the lab

lab() {
    scene=lab
    printf '\n=== the lab report: five users, one-to-one chats ===\n'
    room=

    step 1 "the server runs and waits for connections"
    echo "  chinwagd    listening on $addr"

    step 2 "A connects and takes the name A"
    connect A --name
    expect A "HELLO chinwag/2" "WELCOME A"
    ping A

    step 3 "a second client asks for A, is refused, and takes B"
    connect B
    expect B "HELLO chinwag/2"
    send B A
    expect B "ERR name-taken"
    send B B
    expect B "WELCOME B"
    ping B

    step 4 "B asks A to chat (2 A); A says yes; they talk both ways"
    send B "2 A"
    expect B "OK chat A"
    expect A "REQUEST B"
    send A yes
    expect A "CHAT B" "OK accept B"
    expect B "CHAT A"
    say A "hi B, A here" B
    say B "hello A! B here" A
    say A "how is the lab going?" B
    say B "nearly done" A

    step 5 "C, D and E connect"
    local u
    for u in C D E; do
        connect "$u" --name
        expect "$u" "HELLO chinwag/2" "WELCOME $u"
        ping "$u"
    done

    step 6 "C lists the users (1): A and B are chatting with each other"
    send C 1
    expect C "USER A chatting B" "USER B chatting A" "USER C available -" \
        "USER D available -" "USER E available -" "OK list 5"

    step 7 "C asks E to chat; E declines; both are back at the menu"
    send C "2 E"
    expect C "OK chat E"
    expect E "REQUEST C"
    send E no
    expect E "OK decline C"
    expect C "DECLINED E declined"
    ping C E

    step 8 "C asks D to chat; D accepts; they talk"
    send C "2 D"
    expect C "OK chat D"
    expect D "REQUEST C"
    send D yes
    expect D "CHAT C" "OK accept C"
    expect C "CHAT D"
    say C "hi D, it's C" D
    say D "hey C" C

    step 9 "E lists the users: A with B, C with D"
    send E /list
    expect E "USER A chatting B" "USER B chatting A" "USER C chatting D" \
        "USER D chatting C" "USER E available -" "OK list 5"

    step 10 "A and D leave their chats; E exits (3) and the server closes E"
    send A /leave
    expect A "OK leave chat B"
    expect B "ENDED A left"
    send D /leave
    expect D "OK leave chat C"
    expect C "ENDED D left"
    send E 3
    finished E

    step 11 "A lists the users: E has gone, A-D are free (the lab had no group chat; see the rooms scenario)"
    send A /list
    expect A "USER A available -" "USER B available -" "USER C available -" \
        "USER D available -" "OK list 4"

    step 12 "A, B, C and D press 3 and exit; the server closes every connection"
    for u in A B C D; do
        send "$u" 3
        finished "$u"
    done
}

# ---------------------------------------------------------------- rooms

rooms() {
    scene=rooms
    printf '\n=== five users in a group room ===\n'
    local u
    room=

    step 1 "A, B, C, D and E connect"
    for u in A B C D E; do
        connect "$u" --name
        expect "$u" "HELLO chinwag/2" "WELCOME $u"
        ping "$u"
    done

    step 2 "A creates the room lab (/join lab)"
    send A "/join lab"
    expect A "OK join lab 1"

    step 3 "B, C and D join; everyone already in is told"
    send B "/join lab"
    expect B "OK join lab 2"
    expect A "JOINED lab B"
    send C "/join LAB"
    expect C "OK join lab 3"
    expect A "JOINED lab C"
    expect B "JOINED lab C"
    send D "/join lab"
    expect D "OK join lab 4"
    expect A "JOINED lab D"
    expect B "JOINED lab D"
    expect C "JOINED lab D"

    step 4 "E looks around: /rooms and /list"
    send E /rooms
    expect E "ROOMINFO lab 4" "OK rooms 1"
    send E /list
    expect E "USER A room lab" "USER B room lab" "USER C room lab" \
        "USER D room lab" "USER E available -" "OK list 5"

    step 5 "E joins; A, B, C and D are told"
    send E "/join lab"
    expect E "OK join lab 5"
    for u in A B C D; do expect "$u" "JOINED lab E"; done

    step 6 "group chat: every message reaches the four others, never its sender"
    room=lab
    say A "hello room, A here" B C D E
    say C "hi all from C" A B D E
    say E "E says hi" A B C D
    ping A B C D E

    step 7 "B leaves the room (/leave); the others are told, B gets no more messages"
    room=
    send B /leave
    expect B "OK leave room lab"
    for u in A C D E; do expect "$u" "PARTED lab B left"; done
    room=lab
    say D "B has gone" A C E
    ping B

    step 8 "E exits from the room (/exit): the others see a disconnect"
    send E /exit
    finished E
    for u in A C D; do expect "$u" "PARTED lab E disconnected"; done

    step 9 "A, C and D leave one by one; each time the member there longest becomes operator; the empty room is deleted"
    room=
    send A /leave
    expect A "OK leave room lab"
    expect C "PARTED lab A left" "OP lab C"
    expect D "PARTED lab A left" "OP lab C"
    send C /leave
    expect C "OK leave room lab"
    expect D "PARTED lab C left" "OP lab D"
    send D /leave
    expect D "OK leave room lab"
    send D /rooms
    expect D "OK rooms 0"

    step 10 "A, B, C and D close their input: chinwag sends /quit and exits"
    for u in A B C D; do
        printf '  %-2s closes    its input (end of file)\n' "$u"
        close_input "$u"
        finished "$u"
    done
}

# ---------------------------------------------------------------- class

class() {
    scene=class
    printf '\n=== a class: a registered name, history, a topic, /me, a kick ===\n'
    local u password=lab-pass-for-A
    room=

    step 1 "A connects and registers the name A with a password"
    connect A --name
    expect A "HELLO chinwag/2" "WELCOME A"
    send A "/register $password"
    expect A "OK register A"

    step 2 "A opens the room class, sets its topic, and says two things there"
    send A "/join class"
    expect A "OK join class 1"
    send A "/topic week 3: sockets"
    expect A "TOPIC class A week 3: sockets" "OK topic"
    send A "slides are up"
    send A "/me waves"
    ping A

    step 3 "B joins: the room's past (the time is *) and topic come first"
    connect B --name
    expect B "HELLO chinwag/2" "WELCOME B"
    send B "/join class"
    expect B "HISTORY class * msg A slides are up" "HISTORY class * action A waves" \
        "TOPIC class A week 3: sockets" "OK join class 2"
    expect A "JOINED class B"

    step 4 "C joins and spams; A, the room's operator, kicks C"
    connect C --name
    expect C "HELLO chinwag/2" "WELCOME C"
    send C "/join class"
    expect C "HISTORY class * msg A slides are up" "HISTORY class * action A waves" \
        "TOPIC class A week 3: sockets" "OK join class 3"
    expect A "JOINED class C"
    expect B "JOINED class C"
    room=class
    say C "cheap watches here" A B
    room=
    send A "/kick C spam"
    expect A "PARTED class C kicked" "OK kick C"
    expect C "KICKED class A spam"
    expect B "PARTED class C kicked"
    ping C

    step 5 "A exits; B, in the room longest, becomes its operator"
    send A /exit
    finished A
    expect B "PARTED class A disconnected" "OP class B"

    step 6 "D tries the name A: it asks for the password; a wrong one is refused"
    connect D
    expect D "HELLO chinwag/2"
    send D A
    expect D "PASSWORD A"
    send D "a guess"
    expect D "ERR bad-password"
    send D D
    expect D "WELCOME D"
    ping D

    step 7 "A signs back in with its password and rejoins: the past includes C's line"
    connect A
    expect A "HELLO chinwag/2"
    send A A
    expect A "PASSWORD A"
    send A "$password"
    expect A "WELCOME A"
    send A "/join class"
    expect A "HISTORY class * msg A slides are up" "HISTORY class * action A waves" \
        "HISTORY class * msg C cheap watches here" "TOPIC class A week 3: sockets" \
        "OK join class 2"
    expect B "JOINED class A"

    step 8 "everyone leaves; B sees A go"
    send A /exit
    finished A
    expect B "PARTED class A disconnected"
    for u in B C D; do
        send "$u" /exit
        finished "$u"
    done
}

# ---------------------------------------------------------------- main

now_us
started=$REPLY
echo "five-users: starting chinwagd"
start_server
case $scenario in
    lab) lab ;;
    rooms) rooms ;;
    class) class ;;
    all) lab; rooms; class ;;
esac
now_us
elapsed_ms=$(((REPLY - started) / 1000))
$verbose && { echo "--- the server's log"; cat "$tmp/server.log"; }
printf '\nfive-users: all steps passed (%s, %d.%03d s)\n' "$scenario" $((elapsed_ms / 1000)) $((elapsed_ms % 1000))
