# Tests of kn_lifecycle: the IMDS notice parsers, the watcher on the IMDS simulator, and the
# node REST calls against the master simulator's answers.
kn_add_test(lifecycle_tests lifecycle/lifecycle_test.cpp)
target_link_libraries(lifecycle_tests PRIVATE kn_lifecycle)
add_dependencies(lifecycle_tests kontena-master-sim)
