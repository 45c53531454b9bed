# Tests of kn_imds: the token cache, and the client against the IMDS simulator on loopback.
kn_add_test(imds_tests
  imds/token_cache_test.cpp
  imds/imds_client_test.cpp
  imds/imds_faults_test.cpp)
target_link_libraries(imds_tests PRIVATE kn_imds)
