from . import test_billing
from . import test_instance
from . import test_onboarding
from . import test_portal_account
from . import test_provision
from . import test_security
from . import test_signup_payment
from . import test_journey
