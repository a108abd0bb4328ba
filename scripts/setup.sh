#!/usr/bin/env bash
# Installs everything Hyperfactory needs on a Debian machine. Idempotent: each
# step checks before it acts, so re-running it is cheap and safe.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBIAN_PACKAGES=(postgresql mosquitto chromium libpq-dev python3-venv)

install_debian_packages() {
    local missing=()
    for pkg in "${DEBIAN_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    # python3-venv is only needed when the interpreter cannot make a venv by itself.
    if python3 -c 'import venv, ensurepip' 2>/dev/null; then
        missing=("${missing[@]/python3-venv/}")
    fi
    missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing Debian packages: ${missing[*]}"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

start_postgresql() {
    if pg_isready -h "$HF_DB_HOST" -p "$HF_DB_PORT" -q; then return 0; fi
    say "starting PostgreSQL"
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start
    for _ in $(seq 30); do pg_isready -h "$HF_DB_HOST" -p "$HF_DB_PORT" -q && return 0; sleep 1; done
    say "PostgreSQL did not come up on $HF_DB_HOST:$HF_DB_PORT"; return 1
}

start_mosquitto() {
    if (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null; then return 0; fi
    say "starting Mosquitto"
    as_root mosquitto -d -c /etc/mosquitto/mosquitto.conf
    for _ in $(seq 20); do (exec 3<>/dev/tcp/127.0.0.1/1883) 2>/dev/null && return 0; sleep 0.5; done
    say "Mosquitto did not come up on 127.0.0.1:1883"; return 1
}

create_database_role() {
    # A non-superuser role that may create databases (Odoo's own, the test ones, tenants).
    pg_superuser_psql -tAc "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$HF_DB_USER') THEN
            CREATE ROLE \"$HF_DB_USER\" LOGIN CREATEDB NOSUPERUSER;
        END IF; END \$\$;" >/dev/null
}

create_venv() {
    # --system-site-packages: an Odoo installed for the machine's python3 (and its
    # requirements) stays importable; our own pins below take precedence.
    if [ ! -x "$PY" ]; then
        say "creating $VENV"
        python3 -m venv --system-site-packages "$VENV"
    fi
    local stamp="$VENV/.hf-requirements.sha"
    local want
    want="$(cat "$ROOT/requirements.txt" "$ROOT"/collector/pyproject.toml "$ROOT"/saas/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    say "installing Python dependencies into $VENV"
    "$PY" -m pip install -q --upgrade pip 'setuptools<70' wheel
    "$PY" -m pip install -q -r "$ROOT/requirements.txt"
    "$PY" -m pip install -q --no-deps -e "$ROOT/collector" -e "$ROOT/saas"
    echo "$want" > "$stamp"
}

install_debian_packages
start_postgresql
start_mosquitto
create_database_role
create_venv
"$ROOT/scripts/odoo.sh" --ensure || true
say "setup done"
