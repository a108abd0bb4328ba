from datetime import UTC, datetime

from odoo.addons.hf_uns.tests.common import HfUnsCommon


def historian_writer():
    """The historian's writer module, or None while hf_historian has not landed."""
    try:
        from hf_historian import writer
    except ImportError:
        return None
    return writer


class HfScreensCommon(HfUnsCommon):
    """HfUnsCommon's press, plus a machine-state tag, good/scrap counters and screen users."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tag_state = cls.create_tag(
            "state", modbus_address=10, modbus_type="uint16", data_type="int", role="machine_state"
        )
        cls.tag_good = cls.create_tag(
            "good", modbus_address=11, modbus_type="uint32", data_type="int", role="good_count"
        )
        cls.tag_scrap = cls.create_tag(
            "scrap", modbus_address=13, modbus_type="uint32", data_type="int", role="scrap_count"
        )
        cls.tag_temperature.write({"limit_low": 10.0, "limit_high": 80.0})
        cls.workcenter.write({"hf_min_state_seconds": 10, "hf_state_gap_seconds": 60, "hf_ideal_cycle_time": 6.0})
        cls.operator = cls.create_user("hf_screens_operator", "hf_uns.group_hf_operator")
        cls.engineer = cls.create_user("hf_screens_engineer", "hf_uns.group_hf_engineer")
        cls.Productivity = cls.env["mrp.workcenter.productivity"]

    @classmethod
    def create_other_company_plant(cls, name="Rival plant", segment="rival"):
        """Another company with a site, area, line, workcell and one tag of its own: (company, workcell, tag)."""
        company = cls.env["res.company"].create({"name": name, "hf_uns_segment": segment})
        site = cls.env["hf.uns.site"].create({"name": f"{name} site", "segment": "rsite", "company_id": company.id})
        area = cls.env["hf.uns.area"].create({"name": f"{name} area", "segment": "rarea", "site_id": site.id})
        line = cls.env["hf.uns.line"].create({"name": f"{name} line", "segment": "rline", "area_id": area.id})
        workcenter = cls.env["mrp.workcenter"].create(
            {"name": f"{name} press", "hf_uns_segment": "rpress", "hf_line_id": line.id, "company_id": company.id}
        )
        tag = cls.env["hf.uns.tag"].create(
            {"name": "recipe", "workcenter_id": workcenter.id, "limit_low": 0.0, "limit_high": 10.0}
        )
        return company, workcenter, tag

    @classmethod
    def machine_records(cls, workcenter=None):
        return cls.Productivity.search(
            [("workcenter_id", "=", (workcenter or cls.workcenter).id), ("hf_source", "=", "machine")],
            order="date_start, id",
        )

    def store(self, tag, samples):
        """Write (naive-UTC datetime, value[, quality]) samples through the historian's writer."""
        writer = historian_writer()
        if writer is None:
            self.skipTest("hf_historian (writer) is not installed yet")
        self.env["hf.uns.tag"]._hf_ensure_historian_schema()
        rows = []
        for sample in samples:
            time, value = sample[0], sample[1]
            quality = sample[2] if len(sample) > 2 else 0
            rows.append((tag.id, time.replace(tzinfo=UTC), value, quality))
        write_rows(writer, self.env.cr, rows)
        self.env.invalidate_all()


def write_rows(writer, cr, rows):
    """rows of (tag_id, aware time, value, quality) through the historian's writer (no commit)."""
    samples = [
        writer.Sample(
            tag_id=tag_id,
            time_ms=round(time.timestamp() * 1000),
            value=None if isinstance(value, str) or value is None else float(value),
            value_text=value if isinstance(value, str) else None,
            quality=quality,
        )
        for tag_id, time, value, quality in rows
    ]
    writer.HistorianWriter(cr).write(samples)


def utc(*args):
    return datetime(*args)


def create_workorder(env, workcenter, qty=10.0, name="Bracket"):
    """A confirmed manufacturing order of ``qty`` parts with one operation on ``workcenter``; its work order."""
    from odoo import Command

    product = env["product.product"].create({"name": name, "is_storable": True})
    bom = env["mrp.bom"].create(
        {
            "product_tmpl_id": product.product_tmpl_id.id,
            "product_qty": 1,
            "operation_ids": [
                Command.create({"name": "Pressing", "workcenter_id": workcenter.id, "time_cycle_manual": 1.0})
            ],
        }
    )
    production = env["mrp.production"].create({"product_id": product.id, "product_qty": qty, "bom_id": bom.id})
    production.action_confirm()
    return production.workorder_ids
