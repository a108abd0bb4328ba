#!/usr/bin/env bash
# `make demo`: a demo database with every Hyperfactory addon, a simulated machine speaking real OPC UA,
# Modbus TCP and S7, the collector reading it into the UNS, the ingest storing it, and Odoo on :8069.
# Idempotent: re-running reuses the database (updating the addons) and restarts the processes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DB="${HF_DEMO_DB:-hyperfactory_demo}"
PORT="${HF_DEMO_PORT:-8069}"
DEMO="$ROOT/var/demo"
mkdir -p "$DEMO"

"$ROOT/scripts/setup.sh"
"$ROOT/scripts/odoo.sh" --ensure || { say "make demo needs Odoo 18 (see README: Where Odoo 18 comes from)"; exit 3; }

addons="$(cd "$ROOT/addons" && for a in hf_*/; do a="${a%/}"; [ -f "$a/__manifest__.py" ] && echo "$a"; done | paste -sd,)"
if psql -h "$HF_DB_HOST" -p "$HF_DB_PORT" -U "$HF_DB_USER" -d postgres -tAc \
        "select 1 from pg_database where datname='$DB'" | grep -q 1; then
    say "updating $addons in $DB"
    "$ROOT/scripts/odoo.sh" -d "$DB" -u "$addons" --stop-after-init --no-http --log-level=warn
else
    say "creating $DB with $addons (admin / admin)"
    "$ROOT/scripts/odoo.sh" -d "$DB" -i "$addons" --without-demo=all --stop-after-init --no-http --log-level=warn
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
collector="$VENV/bin/hf-collector"

say "starting the simulated machine (OPC UA, Modbus TCP, S7 servers)"
rm -f "$DEMO/site.yaml"
"$collector" simulate --write-config "$DEMO/site.yaml" > "$DEMO/simulate.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do [ -s "$DEMO/site.yaml" ] && break; sleep 0.5; done
[ -s "$DEMO/site.yaml" ] || { say "the simulator did not start: see $DEMO/simulate.log"; exit 1; }

say "seeding the plant (hierarchy, devices, tags, edge) from the simulator's configuration"
HF_ROOT="$ROOT" HF_DEMO_URL="http://localhost:$PORT" "$ROOT/scripts/odoo.sh" shell -d "$DB" --no-http --log-level=warn < "$ROOT/scripts/demo_seed.py"

say "starting the ingest (MQTT umh/v1/# -> historian)"
"$collector" ingest --mqtt-url "$HF_MQTT_URL" \
    --dsn "host=$HF_DB_HOST port=$HF_DB_PORT dbname=$DB user=$HF_DB_USER" > "$DEMO/ingest.log" 2>&1 &
pids+=($!)

say "starting Odoo on http://localhost:$PORT (database $DB, admin / admin)"
"$ROOT/scripts/odoo.sh" -d "$DB" --db-filter "^$DB\$" --http-port "$PORT" --log-level=warn &
odoo_pid=$!
pids+=($odoo_pid)
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$PORT/web/health" >/dev/null 2>&1 && break; sleep 0.5; done

say "starting the collector: configuration pulled from Odoo as the demo edge"
login="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["login"])' "$DEMO/edge.json")"
HF_COLLECTOR_API_KEY="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$DEMO/edge.json")" \
    "$collector" run --odoo "http://127.0.0.1:$PORT" --db "$DB" --login "$login" \
    --mqtt-url "$HF_MQTT_URL" --state-dir "$DEMO/collector" > "$DEMO/collector.log" 2>&1 &
pids+=($!)

say "live: http://localhost:$PORT/odoo/action-hf_uns.hf_uns_tag_action  (admin / admin; logs in $DEMO)"
[ -s "$DEMO/kiosks.txt" ] && say "machine screens (kiosk links, no login):" && sed 's/^/    /' "$DEMO/kiosks.txt" >&2
say "Ctrl-C stops everything"
wait "$odoo_pid"
