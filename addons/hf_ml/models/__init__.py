from . import hf_ml_job
from . import hf_ml_model_version
from . import maintenance_request
