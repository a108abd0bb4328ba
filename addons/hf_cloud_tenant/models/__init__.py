from . import hf_uns_tag
