{
    "name": "Hyperfactory Cloud (tenant side)",
    "summary": "Quotas of a hyperfactory-cloud tenant enforced inside its own database; its edges' OpenZiti enrollment",
    "version": "18.0.1.0.0",
    "category": "Hidden",
    "website": "https://github.com/hyperfactory/hyperfactory",
    "author": "Hyperfactory",
    "maintainers": ["hyperfactory"],
    "license": "LGPL-3",
    "development_status": "Beta",
    "depends": ["hf_uns"],
    # requests: Odoo's own dependency (the calls to the operator's Odoo)
    "external_dependencies": {"python": ["requests", "hf_core"]},
    "data": [
        "security/ir.model.access.csv",
        "data/ir_cron_data.xml",
        "views/hf_uns_edge_views.xml",
    ],
    "installable": True,
    "auto_install": False,
}
