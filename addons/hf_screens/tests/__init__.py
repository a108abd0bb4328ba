from . import test_machine_state
from . import test_oee
from . import test_screen
from . import test_kiosk
from . import test_tours
from . import test_workorder_time
from . import test_demo_production
