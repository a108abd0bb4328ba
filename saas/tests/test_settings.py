"""Where the provisioner finds the tenant addons: a checkout, an installed package with HF_SAAS_ROOT, or neither."""

from __future__ import annotations

from pathlib import Path

import pytest

from hf_saas.errors import ConfigError
from hf_saas.settings import REPO_ROOT, Settings, find_root


def tree(folder: Path, *addons: str) -> Path:
    """A Hyperfactory tree with these addons (each just a manifest)."""
    for addon in addons:
        (folder / "addons" / addon).mkdir(parents=True)
        (folder / "addons" / addon / "__manifest__.py").write_text("{}")
    return folder


def installed(tmp_path: Path) -> Path:
    """Where a non-editable install puts hf_saas: site-packages, far from any tree."""
    module = tmp_path / "venv" / "lib" / "python3.11" / "site-packages" / "hf_saas" / "settings.py"
    module.parent.mkdir(parents=True)
    return module


def test_a_checkout_finds_its_own_tree() -> None:
    assert REPO_ROOT is not None and (REPO_ROOT / "addons" / "hf_uns" / "__manifest__.py").is_file()
    assert Path(__file__).resolve().parents[2] == REPO_ROOT


def test_an_installed_package_is_told_its_tree_by_hf_saas_root(tmp_path: Path) -> None:
    root = tree(tmp_path / "hyperfactory", "hf_uns", "hf_screens")
    module, elsewhere = installed(tmp_path), tmp_path / "cwd"
    elsewhere.mkdir()
    assert find_root({}, start=module, cwd=elsewhere) is None, "parents[3] of site-packages is no tree"
    assert find_root({"HF_SAAS_ROOT": str(root)}, start=module, cwd=elsewhere) == root.resolve()
    assert find_root({}, start=module, cwd=root / "addons") == root, "or run from inside the tree"
    settings = Settings.load({"HF_SAAS_ROOT": str(root)}, tenant_addons=("hf_uns", "hf_screens"))
    assert settings.root == root.resolve() and settings.state_dir == root.resolve() / "var" / "saas"
    linked = Path(settings.full_addons_path.split(",")[-1])
    assert linked == settings.tenant_addons_dir
    assert {p.name: p.resolve() for p in linked.iterdir()} == {
        "hf_uns": (root / "addons" / "hf_uns").resolve(),
        "hf_screens": (root / "addons" / "hf_screens").resolve(),
    }


def test_without_a_tree_the_provisioner_says_what_to_set(tmp_path: Path) -> None:
    settings = Settings.load({}, root=None, state_dir=tmp_path / "state")
    with pytest.raises(ConfigError, match="HF_SAAS_ROOT"):
        _ = settings.full_addons_path
    explicit = settings.with_overrides(addons_path=str(tree(tmp_path / "own", "hf_uns") / "addons"))
    assert explicit.full_addons_path == str(tmp_path / "own" / "addons"), "an explicit addons path needs no tree"
