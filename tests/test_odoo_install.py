"""hf_uns installs into a fresh Odoo 18 database, creates the historian beside Odoo, and uninstalls cleanly."""

from __future__ import annotations

import uuid

import pytest
from conftest import connect, drop_database, run_odoo

pytestmark = pytest.mark.odoo

UNINSTALL = """
module = env["ir.module.module"].search([("name", "=", "hf_uns")])
module.button_immediate_uninstall()
env.cr.commit()
"""


def tables(dbname: str) -> set[str]:
    with connect(dbname) as conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_name like 'hf_%'")
        found = {row[0] for row in cur.fetchall()}
        cur.execute(
            "select column_name from information_schema.columns "
            "where table_name = 'mrp_workcenter' and column_name like 'hf_%'"
        )
        found |= {f"mrp_workcenter.{row[0]}" for row in cur.fetchall()}
    return found


def test_install_then_uninstall_leaves_nothing_behind() -> None:
    name = f"hf_pytest_install_{uuid.uuid4().hex[:8]}"
    try:
        run_odoo("-d", name, "-i", "hf_uns", "--without-demo=all", "--stop-after-init", "--no-http", "--log-level=warn")
        installed = tables(name)
        assert {"hf_uns_tag", "hf_uns_site", "hf_uns_edge", "mrp_workcenter.hf_uns_path"} <= installed
        assert "hf_historian_sample" in installed, "the historian is created beside Odoo's tables on install"
        run_odoo("shell", "-d", name, "--no-http", "--log-level=warn", stdin=UNINSTALL)
        assert tables(name) == set(), "uninstalling hf_uns removes its tables, columns and the historian"
    finally:
        drop_database(name)
