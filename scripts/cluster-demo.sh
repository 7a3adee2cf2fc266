#!/usr/bin/env bash
# The networking lab's five users on a cluster: a private redis-server on a
# free port and three chinwagd nodes, with A on the first node, B on the
# second, C on the third, D on the first again, E on the second, in one tmux
# window (the nodes' logs top left). Everything works across nodes as on
# one server: try the lab's steps (see scripts/demo.sh), and kill a node's
# process to watch its users' partners see them disconnected.
#
#   scripts/cluster-demo.sh [--nodes N] [--check | stop [SESSION]]
#
# --nodes N takes 2 to 5 nodes (default 3); --check starts everything,
# checks that A to E are connected and see each other across the nodes,
# stops everything and exits 0 (CI runs it). Needs tmux and redis-server.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
nodes=3
if [[ ${1:-} == --nodes ]]; then
    nodes=${2:-}
    shift 2
fi
exec ./demo.sh --cluster "$nodes" "$@"
