from . import onboarding, portal
