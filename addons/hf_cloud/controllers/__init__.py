from . import onboarding
from . import portal
