# Tests of the master area (kn_add_test(...) calls).
