{
    "name": "Hyperfactory Cloud",
    "summary": "Website onboarding that provisions a customer's own Hyperfactory, instances, plans and quotas",
    "version": "18.0.1.1.0",
    "category": "Manufacturing/Manufacturing",
    "website": "https://github.com/hyperfactory/hyperfactory",
    "author": "Hyperfactory",
    "maintainers": ["hyperfactory"],
    "license": "LGPL-3",
    "development_status": "Beta",
    # sale brings account (invoices) and account_payment/payment (paying online); payment_demo is Odoo's demo
    # provider for the tests and the demo: hf_cloud installs it disabled (data/payment_provider_data.xml)
    "depends": ["website", "sale", "account_payment", "payment_demo", "portal", "auth_signup", "mail"],
    "external_dependencies": {"python": ["hf_saas"]},
    "data": [
        "security/hf_cloud_groups.xml",
        "security/ir.model.access.csv",
        "security/hf_cloud_instance_security.xml",
        "security/hf_cloud_usage_security.xml",
        "security/hf_cloud_edge_security.xml",
        "data/product_data.xml",
        "data/ir_config_parameter_data.xml",
        "data/payment_provider_data.xml",
        "data/ir_cron_data.xml",
        "data/mail_template_data.xml",
        "views/hf_cloud_instance_views.xml",
        "views/product_template_views.xml",
        "views/hf_cloud_menus.xml",
        "views/hf_cloud_onboarding_templates.xml",
        "views/hf_cloud_portal_templates.xml",
    ],
    "assets": {
        "web.assets_frontend": [
            "hf_cloud/static/src/js/onboarding.js",
            "hf_cloud/static/src/scss/onboarding.scss",
        ],
        "web.assets_tests": [
            "hf_cloud/static/tests/tours/*.js",
        ],
    },
    "installable": True,
    "application": True,
}
