from . import test_kiosk, test_machine_state, test_oee, test_screen, test_tours, test_workorder_time
