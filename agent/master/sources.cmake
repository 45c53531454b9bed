# Master link sources beyond the RPC codec.
target_sources(kn_master PRIVATE)
