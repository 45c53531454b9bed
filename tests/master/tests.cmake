# Tests of the master area (kn_add_test(...) calls).

# The master link's state machine, handshake rules and collectors: no sockets.
kn_add_test(master_session_tests
  master/session_test.cpp
  master/handshake_test.cpp
  master/node_stats_test.cpp)
target_link_libraries(master_session_tests PRIVATE kn_master)

# kontena-agent against the master simulator (and the IMDS simulator), all on loopback.
kn_add_test(master_link_tests master/link_test.cpp)
target_link_libraries(master_link_tests PRIVATE kn_link)
add_dependencies(master_link_tests kontena-agent kontena-master-sim)

# The Kontena master simulator's own tests (tests/master_sim/).
kn_add_test(master_sim_tests master/sim_test.cpp master/sim_services_test.cpp master/sim_hooks_test.cpp
            master/sim_logs_test.cpp master/sim_container_stats_test.cpp master/sim_volumes_test.cpp)
target_link_libraries(master_sim_tests PRIVATE kn_master_sim)
add_dependencies(master_sim_tests kontena-master-sim)

# The master link's fault matrix (docs/fault-matrix.md, section Master): kontena-agent run
# against a missing, unresolvable, wrongly certified, mute, half-open or restarting master,
# and frames of garbage, oversized or wrongly typed MessagePack from the simulator.
kn_add_test(master_fault_tests master/faults_test.cpp)
target_link_libraries(master_fault_tests PRIVATE kn_http)
add_dependencies(master_fault_tests kontena-agent kontena-master-sim)
