"""The tenant registry as the supervisor reads it every 2 s: only what changed is read again."""

from __future__ import annotations

from pathlib import Path

from hf_saas.registry import Registry, TenantRecord, TenantState


def test_the_supervisors_sweep_reads_only_the_records_that_changed(tmp_path: Path) -> None:
    registry = Registry(tmp_path)
    assert registry.states() == {}
    for i in range(50):
        registry.save(TenantRecord(db=f"hf_t_{i}", slug=f"t{i}", company=f"T {i}", state=TenantState.READY.value))
    assert set(registry.states().values()) == {"ready"} and len(registry.states()) == 50
    assert registry.reads == 50, "the second sweep read nothing"

    record = registry.get("hf_t_7")
    record.state = TenantState.SUSPENDED.value
    registry.save(record)
    assert registry.states()["hf_t_7"] == "suspended"
    assert registry.state("hf_t_7") == "suspended" and registry.state("hf_t_8") == "ready"
    assert registry.reads == 51, "one record changed, one read"

    registry.forget("hf_t_3")
    registry.save(TenantRecord(db="hf_t_new", slug="new", company="New"))
    states = registry.states()
    assert "hf_t_3" not in states and states["hf_t_new"] == "provisioning"
    assert registry.state("hf_t_3") is None
    assert registry.reads == 52
