"""hf_core: the UNS contract (topic grammar, tag names, payload codec, quality, data types)."""
