from . import (
    hf_uns_area,
    hf_uns_dead_letter,
    hf_uns_device,
    hf_uns_edge,
    hf_uns_line,
    hf_uns_segment_mixin,
    hf_uns_site,
    hf_uns_tag,
    mrp_workcenter,
    res_company,
)
