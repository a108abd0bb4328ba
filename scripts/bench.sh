#!/usr/bin/env bash
# `make bench`: every benchmark in bench/, each printing its figures beside its baseline and target.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
"$ROOT/scripts/setup.sh" >/dev/null || exit 1
status=0
for bench in "$ROOT"/bench/bench_*.py; do
    [ -f "$bench" ] || continue
    say "$(basename "$bench")"
    (cd "$ROOT" && "$PY" "$bench") || status=1
done
exit $status
