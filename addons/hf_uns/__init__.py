from . import models
from . import wizard


def post_init_hook(env):
    """Create the historian tables beside Odoo's own (one schema, owned by hf_collector)."""
    env["hf.uns.tag"]._hf_ensure_historian_schema()


def uninstall_hook(env):
    """Uninstalling removes the historian with the tags whose samples it holds."""
    env["hf.uns.tag"]._hf_drop_historian_schema()
