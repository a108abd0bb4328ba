#!/usr/bin/env bash
# `make test`: installs what is missing, runs every pytest suite and every Odoo test suite
# (on a fresh throwaway database, --test-tags scoped to our addons), and ends with one line
# "N passed, N failed" that covers both.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
mkdir -p "$ROOT/var/test"
"$ROOT/scripts/setup.sh" || { say "setup failed"; echo "0 passed, 1 failed"; exit 1; }

passed=0; failed=0; not_run=0

# --- pytest: collector, saas and the cross-component tests -------------------------------
suites=()
for dir in core/tests historian/tests collector/tests saas/tests tests; do
    compgen -G "$ROOT/$dir/test_*.py" >/dev/null && suites+=("$dir")
done
if [ ${#suites[@]} -gt 0 ]; then
    say "pytest: ${suites[*]}"
    (cd "$ROOT" && "$PY" -m pytest -p no:cacheprovider --junitxml=var/test/pytest.xml "${suites[@]}")
    read -r p f n < <("$PY" "$ROOT/scripts/junit_counts.py" "$ROOT/var/test/pytest.xml")
    passed=$((passed + p)); failed=$((failed + f)); not_run=$((not_run + n))
fi

# --- Odoo: every hf_* addon, installed into a fresh database, tests tagged to our addons ----
odoo_ran=0
if "$ROOT/scripts/odoo.sh" --ensure; then
    addons="$(cd "$ROOT/addons" && ls -d hf_*/ 2>/dev/null | tr -d / | while read -r a; do
        [ -f "$a/__manifest__.py" ] && echo "$a"; done | paste -sd, -)"
    if [ -n "$addons" ]; then
        db="hf_test_$(date +%s)_$$"
        log="$ROOT/var/test/odoo-tests.log"
        tags="$(echo "$addons" | sed 's/\([^,]*\)/\/\1/g')"
        say "Odoo tests: database $db, addons $addons (log: $log)"
        "$ROOT/scripts/odoo.sh" -d "$db" -i "$addons" --test-tags "$tags" --without-demo=all \
            --stop-after-init --http-port "${HF_TEST_HTTP_PORT:-18069}" --log-level=test \
            --screenshots "$ROOT/var/test/screenshots" --screencasts "" \
            --max-cron-threads 0 --data-dir "$ROOT/var/test/filestore" > "$log" 2>&1
        rc=$?
        grep -E "(ERROR|FAIL:|CRITICAL)" "$log" | head -n 60 >&2 || true
        read -r p f < <("$PY" "$ROOT/scripts/odoo_counts.py" "$log" "$rc")
        passed=$((passed + p)); failed=$((failed + f)); odoo_ran=1
        say "Odoo tests: $p passed, $f failed"
        "$PY" - "$db" <<'PY' || true
import sys, psycopg2, os
conn = psycopg2.connect(host=os.environ["HF_DB_HOST"], port=os.environ["HF_DB_PORT"],
                        user=os.environ["HF_DB_USER"], dbname="postgres")
conn.autocommit = True
conn.cursor().execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % sys.argv[1])
PY
    fi
fi

echo
if [ "$odoo_ran" = 0 ]; then
    echo "!!!!! ODOO TESTS DID NOT RUN: no Odoo 18 could be found or installed (see above). Only the pytest suites ran. !!!!!"
fi
if [ "$not_run" -gt 0 ]; then
    echo "$not_run pytest test(s) need Odoo 18 and did not run"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
