#!/usr/bin/env bash
# quickstart-timing.sh [RUNS] [BINARY]: runs the README quickstart's apply (a fresh copy of
# examples/quickstart.yaml on the in-process emulator) RUNS times (default 30) and prints each
# run's wall time and the slowest. It measures; it asserts nothing (issue 20: a run once took
# 5 s when the emulator's shutdown waited on a connection the client dialled and never used).
# Without BINARY it builds flowsync from this checkout first.
set -euo pipefail
runs=${1:-30}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin=${2:-}
if [ -z "$bin" ]; then
  bin="$work/flowsync"
  (cd "$root" && go build -o "$bin" .)
fi
max=0
for i in $(seq 1 "$runs"); do
  dir="$work/run$i"
  mkdir "$dir"
  cp -R "$root/examples/quickstart.yaml" "$root/examples/quickstart-secrets" "$dir/"
  start=$(date +%s%N)
  (cd "$dir" && "$bin" apply -f quickstart.yaml --endpoint emulator --yes >/dev/null 2>&1)
  ms=$(( ($(date +%s%N) - start) / 1000000 ))
  printf 'run %2d: %5d ms\n' "$i" "$ms"
  [ "$ms" -gt "$max" ] && max=$ms
done
echo "slowest of $runs runs: $max ms"
