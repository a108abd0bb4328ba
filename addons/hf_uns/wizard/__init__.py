from . import hf_uns_edge_key
