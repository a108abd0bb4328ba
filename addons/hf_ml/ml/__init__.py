"""Pure ML code (no Odoo import): features, models and safe storage; the benchmark imports it too."""
