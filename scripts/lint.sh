#!/usr/bin/env bash
# `make lint`: ruff (check and format) over the whole repository, mypy strict over the typed packages,
# pylint-odoo over the addons, ESLint with Prettier (Odoo's rules) over their JavaScript. Exits non-zero on
# any finding. Settings: pyproject.toml (ruff, mypy), .pylintrc, eslint.config.js and .prettierrc.json.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
cd "$ROOT"
"$ROOT/scripts/setup.sh" >/dev/null 2>&1 || { say "setup failed: run scripts/setup.sh"; exit 1; }
status=0
say "ruff"
"$PY" -m ruff check . || status=1
say "ruff format --check"
"$PY" -m ruff format --check . || status=1
say "mypy --strict: $TYPED_PACKAGES"
"$PY" -m mypy $TYPED_PACKAGES || status=1
say "eslint + prettier: the addons' JavaScript"
"$ROOT/node_modules/.bin/eslint" --max-warnings 0 . || status=1
if [ -f "$ROOT/.pylintrc" ]; then
    say "pylint-odoo: addons"
    "$PY" -m pylint --rcfile="$ROOT/.pylintrc" "$ROOT"/addons/hf_* || status=1
fi
[ "$status" = 0 ] && say "lint clean"
exit $status
