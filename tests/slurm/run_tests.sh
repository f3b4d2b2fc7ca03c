#!/usr/bin/env bash
# The ctest entry `slurm_cluster`: start a one-node Slurm cluster (tests/slurm/cluster.sh) in
# CLUSTER_DIR, run the hidden Catch2 tests tagged [.slurm] against it, and stop the cluster
# whatever happens. A cluster left behind by a killed earlier run in the same folder is stopped
# first. Fails (never skips) with the daemons' log tails when the cluster cannot start.
#
#   tests/slurm/run_tests.sh UNROLL_TESTS CLUSTER_DIR [catch2 arguments]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tests=$1
dir=$2
shift 2
"$here/cluster.sh" stop "$dir" 2>/dev/null
rm -rf "$dir"
trap '"$here/cluster.sh" stop "$dir"' EXIT
trap 'exit 143' TERM INT
if ! env_line=$("$here/cluster.sh" start "$dir"); then
  echo "FAILED: the Slurm test cluster did not start (see the log tails above)" >&2
  exit 1
fi
eval "$env_line"
"$tests" "[.slurm]" "$@"
