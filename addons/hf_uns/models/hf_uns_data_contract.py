from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

from hf_core.uns import KNOWN_SCHEMAS, is_valid_segment


class HfUnsDataContract(models.Model):
    """A UMH Core data contract this plant publishes under (``_pump_v1``): the ingest stores its
    time-series messages like ``_raw``; a contract that is not declared here is counted and logged."""

    _name = "hf.uns.data.contract"
    _description = "Hyperfactory UNS data contract"
    _order = "name"

    name = fields.Char(
        required=True,
        help="The topic segment, '_' first, letters, digits, '_' and '-' (e.g. _pump_v1).",
    )
    payload_shape = fields.Selection(
        [("timeseries", 'Time series ({"timestamp_ms": …, "value": …})')],
        required=True,
        default="timeseries",
    )
    description = fields.Char()
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", required=True, index=True, default=lambda self: self.env.company)

    _sql_constraints = [
        ("name_company_unique", "unique(name, company_id)", "This data contract is declared already."),
    ]

    @api.constrains("name")
    def _check_name(self):
        for contract in self:
            if not contract.name.startswith("_") or not is_valid_segment(contract.name):
                raise ValidationError(
                    _(
                        "Data contract %s must start with '_' and contain only letters, digits, '_' and '-' "
                        "(e.g. _pump_v1).",
                        contract.name,
                    )
                )
            if contract.name in KNOWN_SCHEMAS:
                raise ValidationError(
                    _(
                        "%s is one of UMH's own contracts, handled already: declare only your own ones.",
                        contract.name,
                    )
                )
