{
    "name": "Hyperfactory ML",
    "summary": "Machine-learning jobs on the historian: anomaly detection, predictive maintenance and quality "
    "prediction that score live data, write derived tags and open maintenance",
    "version": "18.0.0.2.0",
    "category": "Manufacturing/Manufacturing",
    "website": "https://github.com/hyperfactory/hyperfactory",
    "author": "Hyperfactory",
    "maintainers": ["hyperfactory"],
    "license": "LGPL-3",
    "development_status": "Alpha",
    "depends": ["hf_uns", "maintenance"],
    "external_dependencies": {"python": ["scikit-learn", "numpy", "hf_core", "hf_historian"]},
    "data": [
        "security/ir.model.access.csv",
        "security/hf_ml_security.xml",
        "data/ir_cron_data.xml",
        "views/hf_ml_job_views.xml",
        "views/hf_ml_model_version_views.xml",
        "views/hf_ml_menus.xml",
    ],
    "assets": {
        "web.assets_backend": [
            "hf_ml/static/src/components/**/*",
        ],
        "web.assets_tests": [
            "hf_ml/static/tests/tours/**/*",
        ],
    },
    "installable": True,
}
