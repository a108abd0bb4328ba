"""Issue 15: what a tenant administrator could use against other tenants through the provisioner."""

from __future__ import annotations

from pathlib import Path

import pytest

from hf_saas import db as pg
from hf_saas.errors import ConfigError
from hf_saas.provision import Provisioner
from hf_saas.settings import OPERATOR_ADDONS, REPO_ROOT, Settings


def test_tenant_addons_path_has_no_operator_addon(settings: Settings) -> None:
    roots = [Path(p) for p in settings.full_addons_path.split(",")]
    for root in roots:
        for addon in OPERATOR_ADDONS:
            assert not (root / addon / "__manifest__.py").exists(), f"{addon} is on the tenants' path in {root}"
    offered = {p.parent.name for root in roots[1:] for p in root.glob("*/__manifest__.py")}
    assert {"hf_uns", "hf_screens", "hf_cloud_tenant"} <= offered


def test_an_addons_path_with_an_operator_addon_is_refused(settings: Settings) -> None:
    with pytest.raises(ConfigError, match="operator addon"):
        _ = settings.with_overrides(addons_path=str(REPO_ROOT / "addons")).full_addons_path
    with pytest.raises(ConfigError, match="operator addon"):
        settings.with_overrides(tenant_addons=("hf_uns", "hf_cloud"))


def test_template_lists_no_operator_addon(provisioner: Provisioner) -> None:
    """Odoo lists every module of its path in ir_module_module: installable by the tenant's administrator."""
    settings = provisioner.settings
    pg.set_allow_connections(settings, settings.template_db, True)  # refused while nobody works in it
    try:
        conn = pg.connect(settings, settings.template_db)
        try:
            with conn.cursor() as cr:
                cr.execute("SELECT name FROM ir_module_module WHERE name = ANY(%s)", (sorted(OPERATOR_ADDONS),))
                assert cr.fetchall() == []
        finally:
            conn.close()
    finally:
        pg.set_allow_connections(settings, settings.template_db, False)
