# Tests of the bootstrap area (kn_add_test(...) calls).
kn_add_test(bootstrap_tests
  bootstrap/escaping_test.cpp
  bootstrap/bootstrap_cli_test.cpp
  bootstrap/activate_test.cpp
  bootstrap/values_file_test.cpp)
target_link_libraries(bootstrap_tests PRIVATE kn_bootstrap)
add_dependencies(bootstrap_tests kontena-bootstrap)
