"""gridcap's asv benchmarks (see ../asv.conf.json)."""
