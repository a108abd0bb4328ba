from . import hf_ml_job, hf_ml_model_version, maintenance_request
