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

# Lifecycle hooks end to end: kontena-agent run, the master simulator's `hooks:`, a private
# dockerd with its own bridge, hooks writing into a bind-mounted host directory.
kn_add_test(lifecycle_hooks_tests app/lifecycle_hooks_test.cpp)
target_link_libraries(lifecycle_hooks_tests PRIVATE kn_docker kn_test_docker)
add_dependencies(lifecycle_hooks_tests kontena-agent kontena-master-sim)
# Service container logs end to end: kontena-agent run, the master simulator's container log
# store and a private dockerd; an agent restart mid-stream and a slowly reading master.
kn_add_test(container_logs_tests app/container_logs_test.cpp)
target_link_libraries(container_logs_tests PRIVATE kn_docker kn_test_docker)
add_dependencies(container_logs_tests kontena-agent kontena-master-sim)
# Exec sessions, one-shot exec and inspect end to end: kontena-agent run, the master
# simulator's exec routes and a private dockerd with its own bridge.
kn_add_test(exec_tests app/exec_test.cpp)
target_link_libraries(exec_tests PRIVATE kn_docker kn_test_docker)
add_dependencies(exec_tests kontena-agent kontena-master-sim)
# Health checks, wait_for_port and container stats end to end: kontena-agent run, the master
# simulator, a private dockerd with its own bridge and a loopback docker-registry.
kn_add_test(health_stats_tests app/health_stats_e2e_test.cpp)
target_link_libraries(health_stats_tests PRIVATE kn_runtime kn_docker kn_test_docker)
add_dependencies(health_stats_tests kontena-agent kontena-master-sim)
# Volumes end to end: stateful data containers across a recreate, named volumes from
# /node_volumes/list created and removed on a private dockerd.
kn_add_test(volumes_e2e_tests app/volumes_test.cpp)
target_link_libraries(volumes_e2e_tests PRIVATE kn_docker kn_test_docker)
add_dependencies(volumes_e2e_tests kontena-agent kontena-master-sim)
# The service pods' fault matrix (docs/fault-matrix.md, section Service pods): registries that
# refuse or hang, the master link lost and the agent SIGKILLed mid-deploy, a crash loop.
kn_add_test(pod_fault_tests app/pod_faults_test.cpp)
target_link_libraries(pod_fault_tests PRIVATE kn_docker kn_test_docker)
add_dependencies(pod_fault_tests kontena-agent kontena-master-sim)
