#!/usr/bin/env bash
# make fuzz: the property tests of the decoders (hf_core payload and uns, the ingest's MQTT wire parser, the
# writer's row encoding into the real PostgreSQL) with many more examples than `make test` runs, starting
# from the seed corpus in historian/tests/fuzz_corpus/ (hypothesis: no atheris in the pinned venv).
#   HF_FUZZ_EXAMPLES  examples per property (default 20000)
#   HF_FUZZ_MINUTES   stop after this many minutes whatever is left (default 10)
# Prints how many inputs ran per property; any failure is shrunk to a minimal input and printed by pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HF_VENV:-.venv}"
export HF_FUZZ_EXAMPLES="${HF_FUZZ_EXAMPLES:-20000}"
minutes="${HF_FUZZ_MINUTES:-10}"
echo "fuzz: ${HF_FUZZ_EXAMPLES} examples per property, at most ${minutes} min"
start=$(date +%s)
status=0
timeout --signal=INT "$((minutes * 60))" "$VENV/bin/python" -m pytest -p no:cacheprovider -q \
    --hypothesis-show-statistics --hypothesis-seed="${HF_FUZZ_SEED:-14}" \
    core/tests/test_payload_properties.py historian/tests/test_ingest_properties.py 2>&1 | tee var/fuzz.log \
    | grep -E "passing examples|failing examples|invalid examples|^(FAILED|ERROR)|passed|failed|Falsifying|test_" \
    || status=$?
status=${PIPESTATUS[0]:-$status}
ran=$(grep -oE "[0-9]+ passing examples" var/fuzz.log | awk '{s += $1} END {print s + 0}')
echo "fuzz: ${ran} inputs passed the properties in $(( $(date +%s) - start )) s (log: var/fuzz.log)"
exit "$status"
