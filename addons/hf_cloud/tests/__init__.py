from . import test_instance
from . import test_onboarding
from . import test_provision
from . import test_security
