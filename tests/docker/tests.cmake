# Tests of the docker area (kn_add_test(...) calls).
