from . import hf_cloud_edge_enrollment
