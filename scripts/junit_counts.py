"""Print "passed failed not_run" from a pytest JUnit XML report.

not_run: tests skipped because they need Odoo 18 and none was found (hf_testing.NEEDS_ODOO); other skips
count as neither passed nor failed.
"""

import sys
import xml.etree.ElementTree as ET

NEEDS_ODOO = "needs Odoo 18"

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError):
    print(0, 1, 0)  # pytest died before writing its report: that is a failure
    sys.exit(0)
passed = failed = not_run = 0
for case in root.iter("testcase"):
    if case.find("failure") is not None or case.find("error") is not None:
        failed += 1
    elif (skipped := case.find("skipped")) is not None:
        not_run += NEEDS_ODOO in (skipped.get("message") or "")
    else:
        passed += 1
print(passed, failed, not_run)
