from odoo import _, api, fields, models
from odoo.exceptions import ValidationError

WIDGET_KINDS = [
    ("value", "Value tile"),
    ("gauge", "Gauge"),
    ("trend", "Trend chart"),
    ("state", "Machine state lamp"),
    ("counters", "Good / scrap counters"),
    ("oee", "OEE tile"),
    ("workorder", "Work order panel"),
    ("downtime", "Downtime reason picker"),
    ("alarms", "Alarms"),
    ("ml_score", "ML score"),
]
# Kinds that show one tag's value and are useless without it.
TAG_KINDS = {"value", "gauge", "trend", "state", "ml_score"}
# Kinds about one workcell's production: meaningless on a line's screen.
WORKCELL_KINDS = {"state", "counters", "oee", "workorder", "downtime"}
GRID_COLUMNS = 12


class HfScreenWidget(models.Model):
    """One tile of a screen's grid: what it shows (kind, tags), where (x/y/w/h) and how (options)."""

    _name = "hf.screen.widget"
    _description = "Hyperfactory screen widget"
    _order = "screen_id, y, x, id"

    screen_id = fields.Many2one("hf.screen", required=True, index=True, ondelete="cascade")
    company_id = fields.Many2one(related="screen_id.company_id", store=True, index=True)
    name = fields.Char(string="Title", help="Shown on the tile; the tag's name when empty.")
    kind = fields.Selection(WIDGET_KINDS, required=True, default="value")
    x = fields.Integer(default=0, help="Column (0-11) of the tile's left edge.")
    y = fields.Integer(default=0, help="Row of the tile's top edge.")
    w = fields.Integer(string="Width", default=3, help="Columns the tile spans (1-12).")
    h = fields.Integer(string="Height", default=2, help="Rows the tile spans.")
    tag_id = fields.Many2one("hf.uns.tag", ondelete="set null", index=True, check_company=True)
    tag_ids = fields.Many2many(
        "hf.uns.tag",
        string="More tags",
        check_company=True,
        help="Trend: extra series. Alarms: tags to watch (all tags with limits when empty). "
        "Counters: good and scrap counters (the workcell's when empty).",
    )
    bound_tag_name = fields.Char(
        string="Bound tag name",
        readonly=True,
        help="Name of the bound tag, kept when the tag is deleted so the tile can say what is missing and copies "
        "can find the same tag on another workcell.",
    )
    decimals = fields.Integer(default=1)
    value_min = fields.Float(string="Scale min", default=0.0)
    value_max = fields.Float(string="Scale max", default=100.0)
    trend_minutes = fields.Integer(string="Trend window (min)", default=10)
    threshold = fields.Float(
        string="Alert threshold", help="ML score: the score above which the tile turns red.", default=0.8
    )

    _sql_constraints = [
        ("grid_x", "CHECK(x >= 0 AND x < 12)", "A tile's column must be between 0 and 11."),
        ("grid_y", "CHECK(y >= 0)", "A tile's row cannot be negative."),
        ("grid_w", "CHECK(w >= 1 AND w <= 12)", "A tile spans 1 to 12 columns."),
        ("grid_h", "CHECK(h >= 1 AND h <= 12)", "A tile spans 1 to 12 rows."),
        ("trend_window", "CHECK(trend_minutes >= 1)", "A trend shows at least one minute."),
    ]

    @api.constrains("x", "w")
    def _check_grid_fits(self):
        for widget in self:
            if widget.x + widget.w > GRID_COLUMNS:
                raise ValidationError(
                    _(
                        "Tile '%(tile)s' runs past the grid's 12 columns: make it narrower or move it left.",
                        tile=widget.display_name,
                    )
                )

    @api.constrains("kind", "value_min", "value_max")
    def _check_scale(self):
        for widget in self.filtered(lambda w: w.kind == "gauge"):
            if widget.value_max <= widget.value_min:
                raise ValidationError(_("Gauge '%s': the scale max must be above the scale min.", widget.display_name))

    @api.constrains("tag_id", "tag_ids", "screen_id")
    def _check_tag_company(self):
        """Every tag a tile shows (its tag and its extra tags) is of the screen's company: a kiosk reads them for
        whoever holds its link."""
        for widget in self:
            for tag in (widget.tag_id | widget.tag_ids).sudo():
                if tag.company_id and tag.company_id != widget.screen_id.company_id:
                    raise ValidationError(
                        _(
                            "Tag %(tag)s belongs to another company than screen %(screen)s: choose "
                            "a tag of %(company)s.",
                            tag=tag.name,
                            screen=widget.screen_id.name,
                            company=widget.screen_id.company_id.name,
                        )
                    )

    @api.depends("name", "kind", "tag_id")
    def _compute_display_name(self):
        kinds = dict(WIDGET_KINDS)
        for widget in self:
            tag = widget.tag_id._filtered_access("read")
            widget.display_name = widget.name or tag.name or widget.bound_tag_name or kinds.get(widget.kind)

    @api.model_create_multi
    def create(self, vals_list):
        widgets = super().create(vals_list)
        widgets._hf_remember_tag_name()
        return widgets

    def write(self, vals):
        result = super().write(vals)
        if "tag_id" in vals:
            self._hf_remember_tag_name()
        return result

    # super() here is write's, called to skip our own write: nothing to return
    def _hf_remember_tag_name(self):  # pylint: disable=missing-return
        for widget in self.filtered("tag_id"):
            full = str(widget.tag_id._hf_key())
            if widget.bound_tag_name != full:
                super(HfScreenWidget, widget).write({"bound_tag_name": full})

    def _hf_layout(self):
        """The static part of the tile for the screen client."""
        self.ensure_one()
        # only the tags this user (a kiosk's operator) may read, whatever the tile was bound to
        tag = self.tag_id._filtered_access("read").filtered("active")
        extra = self.tag_ids._filtered_access("read").filtered("active")
        problem = ""
        if self.kind in WORKCELL_KINDS and not self.screen_id.workcenter_id:
            problem = _("This tile shows one workcell's production: put it on a workcell's screen, not a line's.")
        elif self.kind in TAG_KINDS and not tag:
            problem = (
                _("Tag '%s' no longer exists: bind this tile to another tag.", self.bound_tag_name)
                if self.bound_tag_name
                else _("No tag bound: choose one in the screen designer.")
            )
        elif self.kind == "gauge" and tag.data_type == "string":
            problem = _("Tag %s holds text; a gauge needs a number: use a value tile instead.", tag.name)
        elif self.kind == "ml_score" and tag and tag.role != "derived":
            problem = _("Tag %s is not a derived (analytics) tag: bind the ML score tile to a derived tag.", tag.name)
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.display_name or "",
            "x": self.x,
            "y": self.y,
            "w": self.w,
            "h": self.h,
            "tag_id": tag.id or False,
            "tag_ids": extra.ids,
            "decimals": self.decimals,
            "min": self.value_min,
            "max": self.value_max,
            "trend_minutes": self.trend_minutes,
            "threshold": self.threshold,
            "problem": problem,
        }

    # --- a first screen ---------------------------------------------------------------------

    @api.model
    def _hf_default_tiles(self, tags):
        """The tiles of a first screen over ``tags`` (a workcell's): state, OEE, counters, downtime, work order,
        alarms, values, ML scores and trends, flowed left to right, top to bottom on the grid: widget values."""
        by_role = {
            role: tags.filtered(lambda t, r=role: t.role == r)
            for role in ("machine_state", "good_count", "scrap_count", "derived", "plain")
        }
        tiles = []
        if by_role["machine_state"]:
            tiles.append(
                {"kind": "state", "name": _("Machine state"), "tag_id": by_role["machine_state"][0].id, "w": 3, "h": 2}
            )
        tiles.append({"kind": "oee", "name": _("OEE this shift"), "w": 3, "h": 2})
        if by_role["good_count"] or by_role["scrap_count"]:
            tiles.append({"kind": "counters", "name": _("Parts this shift"), "w": 3, "h": 2})
        tiles.append({"kind": "downtime", "name": _("Downtime reason"), "w": 3, "h": 2})
        tiles.append({"kind": "workorder", "name": _("Work order"), "w": 6, "h": 3})
        numbers = by_role["plain"].filtered(lambda t: t.data_type in ("float", "int"))
        limited = numbers.filtered(lambda t: t.limit_high > t.limit_low)
        if limited:
            tiles.append({"kind": "alarms", "name": _("Alarms"), "w": 6, "h": 3})
        for tag in by_role["plain"][:8]:
            gauge = tag in limited and tag.data_type == "float"
            tiles.append(
                {
                    "kind": "gauge" if gauge else "value",
                    "tag_id": tag.id,
                    "w": 3,
                    "h": 2,
                    "value_min": min(0.0, tag.limit_low) if gauge else 0.0,
                    "value_max": tag.limit_high * 1.2 if gauge else 100.0,
                }
            )
        for tag in by_role["derived"][:2]:
            tiles.append({"kind": "ml_score", "name": tag.description or False, "tag_id": tag.id, "w": 3, "h": 2})
        for tag in numbers.filtered(lambda t: t.data_type == "float")[:2]:
            tiles.append({"kind": "trend", "tag_id": tag.id, "w": 6, "h": 3})
        # Flow the tiles left to right, top to bottom, on the 12-column grid.
        x = y = row_height = 0
        for tile in tiles:
            if x + tile["w"] > GRID_COLUMNS:
                x, y, row_height = 0, y + row_height, 0
            tile.update(x=x, y=y)
            x += tile["w"]
            row_height = max(row_height, tile["h"])
        return tiles
