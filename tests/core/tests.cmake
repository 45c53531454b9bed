# Tests of kn_core: label rules, placement -> labels, the option table and settings loading,
# the stoppable clock.
kn_add_test(core_tests
  core/clock_test.cpp
  core/labels_test.cpp
  core/placement_test.cpp
  core/settings_test.cpp)
target_link_libraries(core_tests PRIVATE kn_core)
