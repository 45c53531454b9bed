# Tests of kn_systemd.
kn_add_test(systemd_tests systemd/service_manager_test.cpp)
target_link_libraries(systemd_tests PRIVATE kn_systemd)
