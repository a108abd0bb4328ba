from . import account_move
from . import hf_cloud_instance
from . import hf_cloud_onboarding_attempt
from . import hf_cloud_usage
from . import payment_transaction
from . import product_template
from . import sale_order
from . import hf_cloud_edge
