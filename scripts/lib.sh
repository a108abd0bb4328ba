# Shared helpers for the setup, demo and test scripts (sourced, not run).
# shellcheck shell=bash
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${HF_VENV:-$ROOT/.venv}"
PY="$VENV/bin/python"
export HF_DB_HOST="${HF_DB_HOST:-127.0.0.1}"
export HF_DB_PORT="${HF_DB_PORT:-5432}"
# Odoo refuses to run as the postgres superuser: it gets a role of its own.
export HF_DB_USER="${HF_DB_USER:-hyperfactory}"
# hyperfactory-cloud's provisioner has a role of its own (CREATEDB, CREATEROLE; each tenant then gets one).
export HF_SAAS_DB_USER="${HF_SAAS_DB_USER:-hf_provisioner}"
export HF_MQTT_URL="${HF_MQTT_URL:-mqtt://127.0.0.1:1883}"
# The typed Python packages: mypy strict (make lint) covers each one's sources.
TYPED_PACKAGES="core/src historian/src collector/src saas/src"

say() { printf '\033[1m[hyperfactory]\033[0m %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        say "need root for: $*"; return 1; fi
}

pg_superuser_psql() {
    # Trust auth as postgres over TCP (this machine kind), else the local socket as the postgres OS user.
    if psql -h "$HF_DB_HOST" -p "$HF_DB_PORT" -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
        psql -h "$HF_DB_HOST" -p "$HF_DB_PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 "$@"
    else
        as_root su postgres -c "psql -d postgres -v ON_ERROR_STOP=1 $(printf '%q ' "$@")"
    fi
}
