from . import hf_machine_state
from . import hf_screen
from . import hf_screen_widget
from . import hf_screen_kiosk
from . import hf_screen_alarm_ack
from . import mrp_workcenter
from . import mrp_workcenter_productivity
from . import mrp_workorder
