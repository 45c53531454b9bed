# Tests of the kontena-agent commands (kn_app), mostly by running the binary on loopback.
kn_add_test(app_tests
  app/agent_cli_test.cpp
  app/label_apply_cli_test.cpp
  app/token_test.cpp)
target_link_libraries(app_tests PRIVATE kn_app)
add_dependencies(app_tests kontena-agent)

# `kontena-agent doctor` against the IMDS simulator, a private dockerd and the master simulator.
kn_add_test(doctor_tests app/doctor_test.cpp)
add_dependencies(doctor_tests kontena-agent kontena-master-sim)

# The node runtime end to end: kontena-agent run, the master simulator's service side, a
# private dockerd with its own bridge and a loopback docker-registry with htpasswd auth.
kn_add_test(service_pods_tests app/service_pods_test.cpp)
target_link_libraries(service_pods_tests PRIVATE kn_docker kn_test_docker)
add_dependencies(service_pods_tests kontena-agent kontena-master-sim)

# Volumes end to end: stateful data containers across a recreate, named volumes from
# /node_volumes/list created and removed on a private dockerd.
kn_add_test(volumes_e2e_tests app/volumes_test.cpp)
target_link_libraries(volumes_e2e_tests PRIVATE kn_docker kn_test_docker)
add_dependencies(volumes_e2e_tests kontena-agent kontena-master-sim)
