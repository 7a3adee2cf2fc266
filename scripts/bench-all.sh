#!/usr/bin/env bash
# The full benchmark run behind docs/performance.md: every workload at the
# documented sizes, results appended as JSON lines to a file, and the chart
# of pairs regenerated. Takes about six minutes; each run stops by itself.
# The cluster runs at the end need redis-server (Debian, Ubuntu: sudo
# apt-get install redis-server); each starts a private one and stops it.
#
#   scripts/bench-all.sh [RESULTS.jsonl]   (default: target/bench-results.jsonl)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

cargo build --release --quiet -p chinwag-bench
bench=${CARGO_TARGET_DIR:-$PWD/target}/release/chinwag-bench
results=${1:-target/bench-results.jsonl}
mkdir -p "$(dirname "$results")"
: >"$results"

run() {
    echo "== chinwag-bench $*" >&2
    "$bench" "$@" --json-only | tee -a "$results"
}

for pairs in 1 10 100 1000; do
    run pairs --pairs "$pairs" --window 8 --secs 10
done
run rate --pairs 1000 --rate 20000 --secs 10
run connect --clients 1000 --concurrency 200
run connect --clients 10000 --concurrency 200
run list --clients 10000
run fanout --members 1000 --rate 50 --secs 10

# Version 2: room history in memory and on disk, sign-ins, chat beside a
# password flood, TLS.
run rooms --rooms 10 --members 10 --window 4 --secs 10
run rooms --rooms 10 --members 10 --window 4 --secs 10 --data-dir
run signin --names 200 --signers 8 --secs 10
run rate --pairs 1000 --rate 20000 --secs 10 --guessers 4
run pairs --pairs 100 --window 8 --secs 10 --tls
run connect --clients 10000 --concurrency 200 --tls
# Memory per user who checked a password. Small on purpose: today each
# such user costs the server about 19 MiB (see docs/performance.md).
run connect --clients 200 --register

# Cluster mode (see "Cluster" in docs/performance.md): two nodes on a
# private redis-server, every pair split across the nodes, each beside the
# same run on one server. The chart leaves the cluster lines out.
run pairs --pairs 100 --window 8 --secs 10 --cluster 2
run rate --pairs 1000 --rate 5000 --secs 10
run rate --pairs 1000 --rate 5000 --secs 10 --cluster 2
run connect --clients 10000 --concurrency 200 --cluster 2

grep '"workload":"pairs"' "$results" | "$bench" chart >docs/perf-pairs.svg
echo "results in $results; chart in docs/perf-pairs.svg" >&2
