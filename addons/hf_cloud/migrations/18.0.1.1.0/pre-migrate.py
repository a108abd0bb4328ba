def migrate(cr, version):
    """The "ready" mail now invites to the customer's portal account: reload it once from the module's data
    (a noupdate record is otherwise never rewritten by an update)."""
    if not version:
        return
    cr.execute(
        "UPDATE ir_model_data SET noupdate = false WHERE module = 'hf_cloud' AND name = 'mail_template_hf_cloud_ready'"
    )
