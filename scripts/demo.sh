#!/usr/bin/env bash
# `make demo`: a demo database with every Hyperfactory addon, a simulated machine speaking real OPC UA,
# Modbus TCP and S7, the collector reading it into the UNS, the ingest storing it, and Odoo on :8069.
# hyperfactory-cloud: the demo database is also the operator's Odoo (hf_cloud, onboarding form at
# /hyperfactory/start); a signup is provisioned by its cron with hf_saas into a database of its own, cloned
# from a template, owned by a database role of its own, and served by its own Odoo process (connected as
# that role) behind `hf-saas serve` on :8070 at http://<db>.localhost:8070.
# Idempotent: re-running reuses the database (updating the addons) and restarts the processes.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
DB="${HF_DEMO_DB:-hyperfactory_demo}"
PORT="${HF_DEMO_PORT:-8069}"
TENANT_PORT="${HF_DEMO_TENANT_PORT:-$((PORT + 1))}"
DEMO="$ROOT/var/demo"
mkdir -p "$DEMO"
# hf_ml signs its models with a key the deployment keeps outside the database: a file of the demo's own,
# made once (Odoo reads it from its environment, never from the database).
export HF_ML_SIGNING_KEY_FILE="${HF_ML_SIGNING_KEY_FILE:-$DEMO/ml-signing.key}"
if [ ! -s "$HF_ML_SIGNING_KEY_FILE" ]; then
    (umask 077 && od -An -N32 -tx1 /dev/urandom | tr -d ' \n' > "$HF_ML_SIGNING_KEY_FILE")
fi
# The provisioner's settings for the demo (hf_saas.settings: HF_SAAS_* variables still win), seen by the
# operator's Odoo, by `hf-saas` and by the tenants' Odoo alike.
# The cloud's own broker (not the plant's on 1883): TLS for the edges, plain MQTT on loopback for the ingests.
CLOUD_MQTT_PORT="${HF_DEMO_CLOUD_MQTT_PORT:-1884}"
CLOUD_MQTTS_PORT="${HF_DEMO_CLOUD_MQTTS_PORT:-8883}"
export HF_SAAS_SETTINGS="$DEMO/saas-settings.json"
cat > "$HF_SAAS_SETTINGS" <<JSON
{"state_dir": "$DEMO/saas", "template_db": "hf_demo_tenant_template", "base_url": "http://{db}.localhost:$TENANT_PORT",
 "mqtt_url": "mqtts://mqtt.localhost:$CLOUD_MQTTS_PORT", "ingest_mqtt_url": "mqtt://127.0.0.1:$CLOUD_MQTT_PORT",
 "mosquitto_pidfile": "$DEMO/saas/mosquitto/mosquitto.pid",
 "mqtt_ca_file": "$DEMO/saas/mosquitto/certs/ca.crt"}
JSON

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

saas="$VENV/bin/hf-saas"
eval "$("$PY" - <<'PY'
import shlex
from hf_saas.settings import Settings
s = Settings.load()
for name, value in (("saas_template", s.template_db),):
    print(f"{name}={shlex.quote(str(value))}")
PY
)"
say "preparing the tenant template $saas_template for hyperfactory-cloud (built only when the addons changed)"
"$saas" --json template > "$DEMO/saas-template.json"
if "$PY" -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1]))["changed"] else 1)' "$DEMO/saas-template.json"; then
    # New addons in the template: bring the demo's existing tenants to the same code.
    for tenant in $("$saas" --json list | "$PY" -c 'import json,sys; print(" ".join(
            r["db"] for r in json.load(sys.stdin) if r["state"] == "ready" and r["db_exists"]))'); do
        say "updating tenant $tenant (as its own database role)"
        "$saas" upgrade "$tenant"
    done
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
collector="$VENV/bin/hf-collector"

say "starting the simulated machine (OPC UA, Modbus TCP, S7 servers)"
rm -f "$DEMO/site.yaml"
"$collector" simulate --write-config "$DEMO/site.yaml" --analytics-mqtt-url "$HF_MQTT_URL" > "$DEMO/simulate.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do [ -s "$DEMO/site.yaml" ] && break; sleep 0.5; done
[ -s "$DEMO/site.yaml" ] || { say "the simulator did not start: see $DEMO/simulate.log"; exit 1; }

say "seeding the plant (hierarchy, devices, tags, edge) from the simulator's configuration"
HF_ROOT="$ROOT" HF_DEMO_URL="http://localhost:$PORT" "$ROOT/scripts/odoo.sh" shell -d "$DB" --no-http --log-level=warn < "$ROOT/scripts/demo_seed.py"
say "predictive maintenance on the press: two days of its past, a job trained on them (hf_ml)"
"$ROOT/scripts/odoo.sh" shell -d "$DB" --no-http --log-level=warn < "$ROOT/scripts/demo_ml.py" >&2
# After the press's past: a started work order gets the running time the machine states show from then on.
say "production: a product routed over each workcell, orders planned, each machine's first one started at its kiosk"
HF_ROOT="$ROOT" HF_DEMO_SEED=production "$ROOT/scripts/odoo.sh" shell -d "$DB" --no-http --log-level=warn \
    < "$ROOT/scripts/demo_seed.py"

say "starting the ingest (MQTT umh/v1/# -> historian)"
"$VENV/bin/hf-ingest" --mqtt-url "$HF_MQTT_URL" \
    --dsn "host=$HF_DB_HOST port=$HF_DB_PORT dbname=$DB user=$HF_DB_USER" > "$DEMO/ingest.log" 2>&1 &
pids+=($!)

say "starting Odoo on http://localhost:$PORT (database $DB, admin / admin)"
"$ROOT/scripts/odoo.sh" -d "$DB" --db-filter "^$DB\$" --http-port "$PORT" --log-level=warn &
odoo_pid=$!
pids+=($odoo_pid)

say "starting the cloud broker: mqtts://mqtt.localhost:$CLOUD_MQTTS_PORT for the edges (development CA in"
say "    $DEMO/saas/mosquitto/certs/ca.crt), mqtt://127.0.0.1:$CLOUD_MQTT_PORT for the tenants' ingests"
broker_conf="$("$saas" broker-config --plain-port "$CLOUD_MQTT_PORT" --tls-port "$CLOUD_MQTTS_PORT" \
    --dev-certs mqtt.localhost,localhost,127.0.0.1 --user "$(id -un)")"
mosquitto -c "$broker_conf" > "$DEMO/cloud-broker.log" 2>&1 &
pids+=($!)
say "starting the tenants' router on http://<database>.localhost:$TENANT_PORT (each tenant's Odoo on demand)"
"$saas" -v serve --listen "127.0.0.1:$TENANT_PORT" > "$DEMO/tenants.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do curl -fs "http://127.0.0.1:$PORT/web/health" >/dev/null 2>&1 && break; sleep 0.5; done
for _ in $(seq 60); do (exec 3<>"/dev/tcp/127.0.0.1/$TENANT_PORT") 2>/dev/null && break; sleep 0.5; done

say "hyperfactory-cloud's second plant: its own simulated machines; it signs up as a customer does (the form, the"
say "    confirmation mail, the demo payment), its edge bundle downloaded from the portal and run as on a plain"
say "    Linux box (sh run.sh), over TLS to the cloud broker"
rm -f "$DEMO/plant2.yaml"
"$collector" simulate --write-config "$DEMO/plant2.yaml" --opcua-port "${HF_DEMO_PLANT2_OPCUA_PORT:-4841}" \
    --modbus-port "${HF_DEMO_PLANT2_MODBUS_PORT:-5021}" --s7-port "${HF_DEMO_PLANT2_S7_PORT:-1103}" \
    --enterprise second_plant_gmbh > "$DEMO/plant2-simulate.log" 2>&1 &
pids+=($!)
for _ in $(seq 60); do [ -s "$DEMO/plant2.yaml" ] && break; sleep 0.5; done
if plant2_edge="$(HF_DEMO_OPERATOR_URL="http://127.0.0.1:$PORT" HF_DEMO_DB="$DB" \
        "$PY" "$ROOT/scripts/demo_cloud.py" "$DEMO/plant2.yaml" "$DEMO/plant2-edge" "$DEMO/plant2.txt")"; then
    HF_COLLECTOR="$collector" sh "$plant2_edge/run.sh" > "$DEMO/plant2-collector.log" 2>&1 &
    pids+=($!)
else
    say "the second plant did not start (see above); the rest of the demo runs on"
fi

say "starting the collector: configuration pulled from Odoo as the demo edge"
login="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["login"])' "$DEMO/edge.json")"
HF_COLLECTOR_API_KEY="$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["api_key"])' "$DEMO/edge.json")" \
    "$collector" run --odoo "http://127.0.0.1:$PORT" --db "$DB" --login "$login" \
    --mqtt-url "$HF_MQTT_URL" --state-dir "$DEMO/collector" > "$DEMO/collector.log" 2>&1 &
pids+=($!)

say "live: http://localhost:$PORT/odoo/action-hf_uns.hf_uns_tag_action  (admin / admin; logs in $DEMO)"
[ -s "$DEMO/kiosks.txt" ] && say "machine screens (kiosk links, no login):" && sed 's/^/    /' "$DEMO/kiosks.txt" >&2
say "predictive maintenance: http://localhost:$PORT/odoo/action-hf_ml.hf_ml_job_action  (its score on press1's screen)"
[ -s "$DEMO/plant2.txt" ] && say "the second plant on hyperfactory-cloud (its kiosks show its live values):" \
    && sed 's/^/    /' "$DEMO/plant2.txt" >&2
say "hyperfactory-cloud: sign up a plant at http://localhost:$PORT/hyperfactory/start"
say "    confirm the address from the mail, pay the plan with the demo provider (any card number); its status"
say "    page then updates until the new database is ready at http://<database>.localhost:$TENANT_PORT"
say "    instances (operator): http://localhost:$PORT/odoo/action-hf_cloud.hf_cloud_instance_action"
say "    no mail server in the demo: the confirmation and login mails wait in"
say "    http://localhost:$PORT/odoo/action-mail.action_view_mail_mail  (tenants' log: $DEMO/tenants.log)"
"$saas" --json list | "$PY" -c 'import json, sys
for r in json.load(sys.stdin):
    if r["state"] == "ready" and r["db_exists"]:
        print("    %s: %s  (login %s)" % (r["company"], r["url"], r["admin_login"]))' >&2 || true
# The machine-state job runs every minute (its first run a minute after Odoo starts): once every machine's
# state is in the historian and has had time to settle, run it once now, as "Run manually" does, so the
# kiosks show their running order's counted parts and the shift's OEE from the first minute on.
"$PY" - "$PORT" "$DB" <<'PY' >&2 &
import sys, time, xmlrpc.client

port, db = sys.argv[1], sys.argv[2]
url = f"http://127.0.0.1:{port}"
uid = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/common").authenticate(db, "admin", "admin", {})
models = xmlrpc.client.ServerProxy(f"{url}/xmlrpc/2/object")
call = lambda model, method, *args: models.execute_kw(db, uid, "admin", model, method, list(args))  # noqa: E731
topics = [t["topic"] for t in call("hf.uns.tag", "search_read", [("role", "=", "machine_state")], ["topic"])]
for _ in range(60):
    if topics and all(row["time"] for row in call("hf.uns.tag", "read_latest", topics)):
        break
    time.sleep(1)
time.sleep(15)  # past the 10 s minimum state duration
cron_id = call("ir.model.data", "check_object_reference", "hf_screens", "hf_cron_machine_states")[1]
try:
    call("ir.cron", "method_direct_trigger", [cron_id])
    print("machine states processed: the kiosks show their orders' counted parts and the shift's OEE")
except xmlrpc.client.Fault as fault:  # e.g. the scheduler is running it right now
    print(f"the machine-state job could not run now ({fault.faultString.splitlines()[-1]}); it runs within a minute")
PY
pids+=($!)
say "Ctrl-C stops everything"
wait "$odoo_pid"
