from . import (
    test_access,
    test_anomaly,
    test_bad_input,
    test_features,
    test_model_storage,
    test_mqtt,
    test_predictive_maintenance,
    test_quality,
    test_tours,
)
