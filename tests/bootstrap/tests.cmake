# Tests of the bootstrap area (kn_add_test(...) calls).
