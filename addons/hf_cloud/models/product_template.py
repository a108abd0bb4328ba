from odoo import fields, models

# What an add-on adds, by quota: the instance's field, the plan's field, the add-on's field.
QUOTA_FIELDS = (
    ("quota_tags", "hf_quota_tags", "hf_addon_tags"),
    ("quota_samples_per_day", "hf_quota_samples_per_day", "hf_addon_samples_per_day"),
    ("quota_retention_days", "hf_quota_retention_days", None),
    ("quota_storage_mb", "hf_quota_storage_mb", "hf_addon_storage_mb"),
    ("quota_cpu", "hf_quota_cpu", "hf_addon_cpu"),
    ("quota_bandwidth_mb_per_day", "hf_quota_bandwidth_mb_per_day", "hf_addon_bandwidth_mb_per_day"),
    ("quota_memory_mb", "hf_quota_memory_mb", None),
)
MB = 1024 * 1024
# What the tenant does at 100 % of its storage quota (hf_historian.ingest.quota enforces it at its ingest).
STORAGE_POLICIES = [
    ("pause_ingest", "Pause ingest (new samples wait, parked, until there is room)"),
    ("shorten_retention", "Shorten retention (the oldest raw history is dropped)"),
]


class ProductTemplate(models.Model):
    _inherit = "product.template"

    hf_is_plan = fields.Boolean(string="Hyperfactory plan", help="Offered on the onboarding form.")
    hf_plan_code = fields.Char(string="Plan code", help="Short code, e.g. starter, factory, enterprise.")
    hf_quota_tags = fields.Integer(string="Tags included", default=500)
    hf_quota_samples_per_day = fields.Integer(string="Samples per day", default=5_000_000)
    hf_quota_retention_days = fields.Integer(string="Raw retention (days)", default=30)
    hf_quota_storage_mb = fields.Integer(string="Storage (MB)", default=5_120)
    hf_quota_cpu = fields.Float(string="Compute (vCPU)", default=1.0)
    hf_quota_memory_mb = fields.Integer(string="Memory (MB)", default=2048)
    hf_quota_bandwidth_mb_per_day = fields.Integer(
        string="Bandwidth (MB per day)",
        default=2048,
        help="Message payload the tenant's ingest takes in each UTC day; beyond it, messages are parked (stored "
        "the next day, or at once after an upgrade), not lost.",
    )
    hf_storage_policy = fields.Selection(
        STORAGE_POLICIES,
        string="At the storage quota",
        default="pause_ingest",
        required=True,
        help="What happens once the instance's database reaches its storage quota (a warning comes at 80 %).",
    )
    hf_overage_product_id = fields.Many2one(
        "product.product",
        string="Samples beyond the plan billed as",
        domain=[("type", "=", "service")],
        help="Samples stored beyond the plan's daily volume are invoiced each month with this product, per "
        "million samples, and the tenant stores up to the cap below instead of parking samples at the "
        "plan's volume. Empty: samples beyond the plan are parked (stored once there is room), not billed.",
    )
    hf_overage_cap_factor = fields.Integer(
        string="Billed overage stops at (x the daily volume)",
        default=10,
        help="With billed overage, samples beyond this multiple of the plan's daily volume are parked: a "
        "runaway edge cannot run up an unbounded bill.",
    )
    hf_is_addon = fields.Boolean(
        string="Hyperfactory add-on",
        help="Sold to customers on their instance's portal page; each unit adds the quantities below to the "
        "instance's plan once its order is confirmed (paid).",
    )
    hf_addon_tags = fields.Integer(string="Extra tags")
    hf_addon_samples_per_day = fields.Integer(string="Extra samples per day")
    hf_addon_bandwidth_mb_per_day = fields.Integer(string="Extra bandwidth (MB per day)")
    hf_addon_storage_mb = fields.Integer(string="Extra storage (MB)")
    hf_addon_cpu = fields.Float(string="Extra compute (vCPU)")

    _sql_constraints = [
        ("hf_plan_code_unique", "unique(hf_plan_code)", "Two plans cannot share a code."),
        (
            "hf_quota_positive",
            (
                "CHECK(hf_quota_tags >= 0 AND hf_quota_samples_per_day >= 0 "
                "AND hf_quota_retention_days >= 0 AND hf_quota_storage_mb >= 0 "
                "AND COALESCE(hf_quota_bandwidth_mb_per_day, 0) >= 0 AND COALESCE(hf_quota_memory_mb, 0) >= 0)"
            ),
            "Quotas cannot be negative.",
        ),
        (
            "hf_addon_positive",
            (
                "CHECK(COALESCE(hf_addon_tags, 0) >= 0 AND COALESCE(hf_addon_samples_per_day, 0) >= 0 "
                "AND COALESCE(hf_addon_storage_mb, 0) >= 0 AND COALESCE(hf_addon_cpu, 0) >= 0 "
                "AND COALESCE(hf_addon_bandwidth_mb_per_day, 0) >= 0)"
            ),
            "An add-on cannot take quota away.",
        ),
        ("hf_plan_or_addon", "CHECK(NOT (hf_is_plan AND hf_is_addon))", "A product is a plan or an add-on, not both."),
        (
            "hf_overage_cap_factor_positive",
            "CHECK(COALESCE(hf_overage_cap_factor, 1) >= 1)",
            "The overage cap is at least the plan's own daily volume (1).",
        ),
    ]

    def _hf_quotas(self):
        self.ensure_one()
        return {
            "code": self.hf_plan_code or "custom",
            "tags": self.hf_quota_tags,
            "samples_per_day": self.hf_quota_samples_per_day,
            "retention_days": self.hf_quota_retention_days,
            "storage_mb": self.hf_quota_storage_mb,
            "cpu": self.hf_quota_cpu,
            "bytes_per_day": self.hf_quota_bandwidth_mb_per_day * MB,
            "memory_mb": self.hf_quota_memory_mb,
            "storage_policy": self.hf_storage_policy,
        }

    def _hf_on_sale(self, kind):
        """True when this is a plan (``kind="plan"``) or an add-on (``"addon"``) a customer may buy now:
        a hidden, archived or internal product is never a customer's to pick."""
        self.ensure_one()
        return bool(self.active and self.sale_ok and self[f"hf_is_{kind}"])
