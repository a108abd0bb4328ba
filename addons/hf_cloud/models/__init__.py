from . import hf_cloud_instance, hf_cloud_onboarding_attempt, product_template
