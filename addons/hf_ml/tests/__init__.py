from . import test_anomaly
from . import test_predictive_maintenance
from . import test_quality
from . import test_bad_input
from . import test_model_storage
from . import test_access
from . import test_mqtt
from . import test_features
