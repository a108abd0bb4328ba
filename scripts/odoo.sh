#!/usr/bin/env bash
# Finds Odoo 18 and runs it with Hyperfactory's addons.
#   scripts/odoo.sh --ensure   find Odoo (or install it from Odoo's official source when the
#                              network allows); exit 0 when found, 3 when no Odoo can be had
#   scripts/odoo.sh --requirements SRC   install only Odoo's requirements from SRC into the venv
#   scripts/odoo.sh ARGS...    run Odoo (`odoo-bin ARGS`) against this machine's PostgreSQL
# Where Odoo comes from, in order:
#   1. ODOO_BIN=/path/to/odoo-bin
#   2. an `odoo` importable by the project's Python (.venv; a previous run of 3. or 4. put it there)
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
    # packages our requirements.txt pins for asyncua. Some of Odoo's sdists (cbor2 5.4.2) build
    # only with setuptools<70 (they import pkg_resources): that cap must reach pip's build
    # environments, which pip 26 no longer does for PIP_CONSTRAINT/-c, only for --build-constraint.
    local src="$1" req build_cap
    req="$(mktemp)"; build_cap="$(mktemp)"
    grep -v -i -E '^(python-ldap|cryptography|pyopenssl)\b' "$src/requirements.txt" > "$req"
    echo 'setuptools<70' > "$build_cap"
    local cap_option=()
    if "$PY" -m pip install --help 2>/dev/null | grep -q -- '--build-constraint'; then
        cap_option=(--build-constraint "$build_cap")
    else
        export PIP_CONSTRAINT="$build_cap"  # pip before 25.3: constraints still reach build environments
    fi
    say "installing Odoo's requirements from $src/requirements.txt into $VENV"
    local rc=0
    "$PY" -m pip install -q "${cap_option[@]}" -r "$req" || rc=$?
    unset PIP_CONSTRAINT
    rm -f "$req" "$build_cap"
    return $rc
}

install_odoo() {
    # Odoo's requirements, then ours again: where both pin a package, ours wins (see requirements.txt).
    install_odoo_requirements "$1" || return 3
    "$PY" -m pip install -q -r "$ROOT/requirements.txt" || return 3
    put_on_path "$1"
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
        install_odoo "$ODOO_SRC" || return 3
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
    install_odoo "$HF_ODOO_HOME" || return 3
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

if [ "${1:-}" = "--requirements" ]; then
    # scripts/odoo.sh --requirements SRC: Odoo's requirements from SRC into $VENV (HF_VENV), nothing else.
    [ -f "${2:-}/requirements.txt" ] || { say "usage: scripts/odoo.sh --requirements ODOO_SOURCE_TREE"; exit 2; }
    install_odoo_requirements "$2"
    exit $?
fi
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
