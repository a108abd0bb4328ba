from . import (
    hf_machine_state,
    hf_screen,
    hf_screen_alarm_ack,
    hf_screen_kiosk,
    hf_screen_widget,
    mrp_workcenter,
    mrp_workcenter_productivity,
    mrp_workorder,
)
