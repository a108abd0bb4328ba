#!/usr/bin/env bash
# make fuzz: a longer fuzz run of the UNS decoders than `make test` makes (no atheris in the pinned venv):
#  1. the hypothesis properties of core/tests/test_payload_properties.py and historian/tests/
#     test_ingest_properties.py (payload, uns, mqtt_wire, decode -> prepare -> writer -> PostgreSQL) with
#     HF_FUZZ_EXAMPLES examples each (default 2000), a fixed seed, at most half of the time;
#  2. historian/tests/fuzz_mutate.py: mutations of the seed corpus in historian/tests/fuzz_corpus/ fed to
#     payload, uns, mqtt_wire (cut at random points) and the writer's row encoding, for the other half.
#   HF_FUZZ_MINUTES  the whole run (default 10); HF_FUZZ_SEED (default 14)
# Prints how many inputs ran; a failure is printed with its (shrunk) input and the exit code is non-zero.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${HF_VENV:-.venv}"
export HF_FUZZ_EXAMPLES="${HF_FUZZ_EXAMPLES:-2000}"
minutes="${HF_FUZZ_MINUTES:-10}"
seed="${HF_FUZZ_SEED:-14}"
half=$((minutes * 30))
mkdir -p var
echo "fuzz: ${minutes} min; hypothesis ${HF_FUZZ_EXAMPLES} examples per property (at most ${half} s), then mutations"
start=$(date +%s)
timeout --signal=INT "$half" "$VENV/bin/python" -m pytest -p no:cacheprovider -q \
    --hypothesis-show-statistics --hypothesis-seed="$seed" \
    core/tests/test_payload_properties.py historian/tests/test_ingest_properties.py > var/fuzz.log 2>&1
hypothesis_status=$?
grep -E "^(FAILED|ERROR)|Falsifying|[0-9]+ (passed|failed)" var/fuzz.log
ran=$(grep -oE "[0-9]+ passing" var/fuzz.log | awk '{s += $1} END {print s + 0}')
echo "fuzz: hypothesis: ${ran} inputs passed the properties in $(( $(date +%s) - start )) s (log: var/fuzz.log)"
[ "$hypothesis_status" = 124 ] && echo "fuzz: (hypothesis stopped at its time budget)"
left=$(( minutes * 60 - ( $(date +%s) - start ) ))
[ "$left" -lt 10 ] && left=10
"$VENV/bin/python" historian/tests/fuzz_mutate.py "$left" "$seed"
mutate_status=$?
if [ "$hypothesis_status" != 0 ] && [ "$hypothesis_status" != 124 ]; then exit "$hypothesis_status"; fi
exit "$mutate_status"
