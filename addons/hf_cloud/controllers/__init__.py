from . import onboarding
from . import portal
from . import tenant_api
