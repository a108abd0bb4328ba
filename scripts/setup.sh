#!/usr/bin/env bash
# Installs everything Hyperfactory needs on a Debian machine. Idempotent: each
# step checks before it acts, so re-running it is cheap and safe.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

DEBIAN_PACKAGES=(postgresql mosquitto chromium libpq-dev python3-venv)
PIP_VERSION="pip==26.3"
# Our Python packages, installed editable into the venv (each has its own pyproject.toml).
PROJECT_PACKAGES=(core historian collector saas)

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

create_database_roles() {
    # Non-superuser roles: Odoo's own (it may create databases: the operator's, the test ones) and the
    # provisioner's, which also creates each tenant's role (CREATEROLE) and is never a superuser.
    pg_superuser_psql -tAc "DO \$\$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$HF_DB_USER') THEN
            CREATE ROLE \"$HF_DB_USER\" LOGIN CREATEDB NOSUPERUSER;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '$HF_SAAS_DB_USER') THEN
            CREATE ROLE \"$HF_SAAS_DB_USER\" LOGIN CREATEDB CREATEROLE NOSUPERUSER;
        END IF; END \$\$;" >/dev/null
}

create_venv() {
    # An isolated venv: everything the project runs with is installed by the lines below (and
    # Odoo's requirements by scripts/odoo.sh), so a missing install step fails here, not on a
    # user's machine. An Odoo installed elsewhere is found through ODOO_BIN or ODOO_SRC.
    if [ ! -x "$PY" ]; then
        say "creating $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.hf-requirements.sha"
    local want
    want="$(cat "$ROOT"/requirements*.txt "$ROOT"/*/pyproject.toml 2>/dev/null | sha256sum | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    say "installing Python dependencies into $VENV"
    # pip pinned: scripts/odoo.sh relies on how this pip hands build constraints to sdists' builds.
    "$PY" -m pip install -q --upgrade "$PIP_VERSION" 'setuptools<70' wheel
    "$PY" -m pip install -q -r "$ROOT/requirements.txt" -r "$ROOT/requirements-dev.txt"
    "$PY" -m pip install -q --no-deps $(for package in "${PROJECT_PACKAGES[@]}"; do echo "-e $ROOT/$package"; done)
    echo "$want" > "$stamp"
}

install_js_tools() {
    # make lint's ESLint and Prettier for the addons' OWL code, at the versions package-lock.json pins.
    if ! command -v npm >/dev/null; then
        say "installing Debian packages: nodejs npm"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm
    fi
    local stamp="$ROOT/node_modules/.hf-package-lock.sha"
    local want
    want="$(sha256sum "$ROOT/package-lock.json" | cut -d' ' -f1)"
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    say "installing the JavaScript linters (npm ci)"
    (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$want" > "$stamp"
}

install_debian_packages
start_postgresql
start_mosquitto
create_database_roles
create_venv
install_js_tools
"$ROOT/scripts/odoo.sh" --ensure || say "no Odoo 18 found: make test runs only the suites that need no Odoo (README: Where Odoo 18 comes from)"
say "setup done"
