from . import hf_uns_tag
from . import hf_uns_edge
