"""The front door: Odoo's requirements install on a fresh machine through the project's own script, and a
machine without Odoo reports the tests that need it as not run, never as failed."""

from __future__ import annotations

import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest
from hf_testing import NEEDS_ODOO, odoo_importable

ROOT = Path(__file__).resolve().parent.parent
ODOO_SH = ROOT / "scripts" / "odoo.sh"
JUNIT_COUNTS = ROOT / "scripts" / "junit_counts.py"
HF_ODOO_HOME = Path(
    os.environ.get(
        "HF_ODOO_HOME", Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "hyperfactory" / "odoo-18.0"
    )
)


def odoo_source_tree() -> Path | None:
    """The Odoo source tree in use, where the project looks for one (ODOO_SRC, then HF_ODOO_HOME)."""
    for candidate in (os.environ.get("ODOO_SRC"), HF_ODOO_HOME):
        if candidate and (Path(candidate) / "odoo" / "release.py").is_file():
            return Path(candidate)
    return None


def project_pip() -> str:
    """The pip release setup installed into the project's venv (`pip X.Y from …`)."""
    version = subprocess.run(
        [sys.executable, "-m", "pip", "--version"], capture_output=True, text=True, check=True
    ).stdout.split()[1]
    return f"pip=={version}"


@pytest.mark.skipif(odoo_source_tree() is None, reason=f"{NEEDS_ODOO} source tree (ODOO_SRC or HF_ODOO_HOME)")
def test_odoo_requirements_install_into_a_fresh_venv_with_an_empty_pip_cache(tmp_path: Path) -> None:
    """What a fresh machine does: no venv, no built wheels in pip's cache (a cached cbor2 wheel hid the
    pip 26 build failure once), then `import odoo` from the new venv."""
    source = odoo_source_tree()
    assert source is not None
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=True)
    python = fresh / "bin" / "python"
    env = {**os.environ, "HF_VENV": str(fresh), "PIP_CACHE_DIR": str(tmp_path / "empty-pip-cache")}
    subprocess.run([python, "-m", "pip", "install", "-q", project_pip()], env=env, check=True)
    install = subprocess.run([ODOO_SH, "--requirements", source], env=env, capture_output=True, text=True, check=False)
    assert install.returncode == 0, f"Odoo's requirements did not install:\n{install.stderr[-4000:]}"
    probe = (
        "import sys; sys.path.insert(0, sys.argv[1]); import odoo, odoo.release, cbor2; "
        "import odoo.http, odoo.models; print(odoo.release.version_info[0])"
    )
    imported = subprocess.run([python, "-c", probe, source], capture_output=True, text=True, check=False)
    assert imported.returncode == 0, imported.stderr[-3000:]
    assert imported.stdout.strip() == "18"


def test_without_odoo_the_tests_that_need_it_are_counted_as_not_run(tmp_path: Path) -> None:
    """Odoo hidden from the interpreter (an `odoo` that cannot be imported comes first on its path): the
    Odoo-dependent pytest tests are skipped and make test's counting reports them as not run."""
    hidden = tmp_path / "no-odoo" / "odoo"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("Odoo is hidden by this test")\n')
    report = tmp_path / "report.xml"
    selection = ["tests/test_odoo_install.py", "saas/tests/test_provision.py::test_template_is_fresh_after_a_build"]
    env = {**os.environ, "PYTHONPATH": str(hidden.parent)}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", f"--junitxml={report}", *selection],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    counts = subprocess.run([sys.executable, JUNIT_COUNTS, report], capture_output=True, text=True, check=True)
    passed, failed, not_run = (int(n) for n in counts.stdout.split())
    assert (passed, failed, not_run) == (0, 0, len(selection)), run.stdout[-3000:]


def test_odoo_is_importable_here_when_a_source_tree_is_known() -> None:
    """Where the project can find Odoo, setup put it on the venv's path: the Odoo suites must run."""
    if odoo_source_tree() is None:
        pytest.skip(f"{NEEDS_ODOO} source tree (ODOO_SRC or HF_ODOO_HOME)")
    assert odoo_importable(), f"an Odoo tree is at {odoo_source_tree()} but {sys.executable} cannot import odoo"
