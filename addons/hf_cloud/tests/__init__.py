from . import test_instance, test_onboarding, test_provision
