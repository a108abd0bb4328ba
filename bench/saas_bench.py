"""What the cloud benchmarks share: a provisioner of their own (its own state folder, template and database
prefix, the machine's broker) and the saas test suite's tenant helpers (``spec_data``, ``drop_tenant``)."""

from __future__ import annotations

import sys

from hf_saas.provision import Provisioner
from hf_saas.settings import REPO_ROOT, Settings

if REPO_ROOT is None:
    raise SystemExit("the benchmarks run in the Hyperfactory tree (set HF_SAAS_ROOT)")
sys.path.insert(0, str(REPO_ROOT / "saas"))
sys.path.insert(0, str(REPO_ROOT / "tests" / "support"))  # hf_testing, which the conftest imports
from hf_testing import free_port, stop_processes, wait_port

from tests.conftest import drop_tenant, spec_data

__all__ = ["bench_provisioner", "drop_tenant", "free_port", "spec_data", "stop_processes", "wait_port"]


def bench_provisioner(folder: str, db_prefix: str) -> Provisioner:
    """A provisioner whose state lives in ``var/bench/<folder>`` and whose tenants are ``<db_prefix>…``."""
    assert REPO_ROOT is not None
    state = REPO_ROOT / "var" / "bench" / folder
    return Provisioner(
        Settings.load(
            state_dir=state,
            data_dir=state / "odoo-data",
            template_db="hf_bench_tenant_template",
            db_prefix=db_prefix,
            mqtt_url="mqtt://127.0.0.1:1883",
        )
    )
