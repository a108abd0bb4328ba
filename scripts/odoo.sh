#!/usr/bin/env bash
# Finds Odoo 18 and runs it with Hyperfactory's addons.
#   scripts/odoo.sh --ensure   find Odoo (or install it from Odoo's official source when the
#                              network allows); exit 0 when found, 3 when no Odoo can be had
#   scripts/odoo.sh ARGS...    run Odoo (`odoo-bin ARGS`) against this machine's PostgreSQL
# Where Odoo comes from, in order:
#   1. ODOO_BIN=/path/to/odoo-bin
#   2. an `odoo` importable by the project's Python (.venv, which sees the machine's site-packages)
#   3. ODOO_SRC=/path/to/odoo-18.0-source (put on the venv's path, its requirements installed)
#   4. git clone of https://github.com/odoo/odoo branch 18.0 into $HF_ODOO_HOME
set -euo pipefail
. "$(dirname "$0")/lib.sh"
HF_ODOO_HOME="${HF_ODOO_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/hyperfactory/odoo-18.0}"
ODOO_OFFICIAL_GIT="https://github.com/odoo/odoo.git"

odoo_importable() {
    "$PY" - <<'PY' 2>/dev/null
import odoo, odoo.release
assert odoo.release.version_info[0] == 18, odoo.release.version
PY
}

install_odoo_requirements() {
    # Odoo's pins, less python-ldap (auth_ldap only, needs LDAP headers) and the two crypto
    # packages our requirements.txt pins for asyncua. setuptools<70 for the sdists it builds.
    local src="$1" req
    req="$(mktemp)"
    grep -v -i -E '^(python-ldap|cryptography|pyopenssl)\b' "$src/requirements.txt" > "$req"
    local constraint
    constraint="$(mktemp)"; echo 'setuptools<70' > "$constraint"
    PIP_CONSTRAINT="$constraint" "$PY" -m pip install -q -r "$req"
    "$PY" -m pip install -q -r "$ROOT/requirements.txt"
    rm -f "$req" "$constraint"
}

put_on_path() {
    local site
    site="$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$1" > "$site/hf-odoo-src.pth"
}

ensure_odoo() {
    if [ -n "${ODOO_BIN:-}" ]; then
        [ -f "$ODOO_BIN" ] || { say "ODOO_BIN=$ODOO_BIN does not exist"; return 3; }
        return 0
    fi
    odoo_importable && return 0
    if [ -n "${ODOO_SRC:-}" ]; then
        [ -f "$ODOO_SRC/odoo/release.py" ] || { say "ODOO_SRC=$ODOO_SRC is not an Odoo source tree"; return 3; }
        say "using the Odoo source at ODOO_SRC=$ODOO_SRC"
        install_odoo_requirements "$ODOO_SRC"
        put_on_path "$ODOO_SRC"
        odoo_importable && return 0
        say "Odoo at $ODOO_SRC does not import with $PY"; return 3
    fi
    if [ ! -f "$HF_ODOO_HOME/odoo/release.py" ]; then
        if ! timeout 20 git ls-remote --heads "$ODOO_OFFICIAL_GIT" 18.0 >/dev/null 2>&1; then
            say "no Odoo 18: none importable, ODOO_SRC/ODOO_BIN unset, and $ODOO_OFFICIAL_GIT is out of reach"
            return 3
        fi
        say "cloning Odoo 18.0 from $ODOO_OFFICIAL_GIT into $HF_ODOO_HOME"
        mkdir -p "$(dirname "$HF_ODOO_HOME")"
        git clone -q --depth 1 --branch 18.0 "$ODOO_OFFICIAL_GIT" "$HF_ODOO_HOME"
    fi
    install_odoo_requirements "$HF_ODOO_HOME"
    put_on_path "$HF_ODOO_HOME"
    odoo_importable
}

addons_path() {
    local community
    if [ -n "${ODOO_BIN:-}" ]; then
        community="$(dirname "$ODOO_BIN")/addons"
    else
        community="$("$PY" -c 'import odoo, os; print(os.path.join(os.path.dirname(os.path.dirname(odoo.__file__)), "addons"))')"
    fi
    if [ -d "$community" ]; then echo "$community,$ROOT/addons"; else echo "$ROOT/addons"; fi
}

if [ "${1:-}" = "--ensure" ]; then
    ensure_odoo
    exit $?
fi
ensure_odoo || exit 3
launcher=(-c 'import sys, odoo; sys.exit(odoo.cli.main())')
[ -n "${ODOO_BIN:-}" ] && launcher=("$ODOO_BIN")
command=()  # an Odoo subcommand (shell, db, …) must come before the options
case "${1:-}" in ""|-*) ;; *) command=("$1"); shift ;; esac
exec "$PY" "${launcher[@]}" "${command[@]}" --addons-path "$(addons_path)" \
    --db_host "$HF_DB_HOST" --db_port "$HF_DB_PORT" --db_user "$HF_DB_USER" "$@"
