"""Print "passed failed" from an Odoo test log ("N failed, N error(s) of N tests when loading ...")."""

import re
import sys

log_path, exit_code = sys.argv[1], int(sys.argv[2])
with open(log_path, encoding="utf-8", errors="replace") as log:
    text = log.read()
reports = re.findall(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database", text)
if not reports:
    # Odoo stopped before its test report (an addon that does not install): one failure.
    print(0, 1)
    sys.exit(0)
failed, errors, total = (int(x) for x in reports[-1])
bad = failed + errors
if exit_code != 0 and bad == 0:
    bad = 1  # Odoo failed outside the tests (e.g. a module that did not load)
print(total - failed - errors, bad)
