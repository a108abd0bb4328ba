from . import test_analytics_in
from . import test_analytics_wait
from . import test_analytics_batch
from . import test_counters
from . import test_outbound
from . import test_oee_history
from . import test_kiosk
