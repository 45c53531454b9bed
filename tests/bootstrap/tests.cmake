# Tests of the bootstrap area (kn_add_test(...) calls).
kn_add_test(bootstrap_tests
  bootstrap/escaping_test.cpp
  bootstrap/bootstrap_cli_test.cpp
  bootstrap/activate_test.cpp
  bootstrap/values_file_test.cpp)
target_link_libraries(bootstrap_tests PRIVATE kn_bootstrap)
add_dependencies(bootstrap_tests kontena-bootstrap)

# The real systemd boot (scripts/boot-test.sh; tests/boot/ holds the guest's test units): a
# Debian 12 guest under qemu TCG installs kontena-node from the rendered Ignition config alone.
# Label `boot`, left out of the dev test preset (it takes minutes); run it with
# `ctest --test-dir build -L boot`. 77: skipped (not root, or qemu/debootstrap missing).
add_test(NAME "boot_test:a Debian 12 guest boots kontena-node from the rendered Ignition config"
         COMMAND ${PROJECT_SOURCE_DIR}/scripts/boot-test.sh ${PROJECT_BINARY_DIR})
set_tests_properties("boot_test:a Debian 12 guest boots kontena-node from the rendered Ignition config"
                     PROPERTIES LABELS boot SKIP_RETURN_CODE 77 TIMEOUT 3000)
