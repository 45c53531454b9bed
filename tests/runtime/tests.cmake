# Tests of the runtime area (agent/runtime/).

# The pod model, the container spec and the reconciler: no Docker.
kn_add_test(runtime_unit_tests
  runtime/service_pod_test.cpp
  runtime/container_spec_test.cpp
  runtime/reconciler_test.cpp
  runtime/pod_manager_rpc_test.cpp
  runtime/lifecycle_hooks_plan_test.cpp
  runtime/log_stream_test.cpp
  runtime/exec_sessions_test.cpp
  runtime/health_stats_test.cpp)
target_link_libraries(runtime_unit_tests PRIVATE kn_runtime)

# The pod manager against a real dockerd (own bridge, busybox imported offline) and a
# recording master port. Fails (never passes silently) without root and dockerd.
kn_add_test(runtime_docker_tests
  runtime/pod_manager_test.cpp
  runtime/lifecycle_hooks_docker_test.cpp
  runtime/log_streamer_test.cpp
  runtime/exec_sessions_docker_test.cpp
  runtime/wait_for_port_test.cpp)
target_link_libraries(runtime_docker_tests PRIVATE kn_runtime kn_test_docker)

# The volume manager: its decoding without Docker, then against a real dockerd with a
# recording master port; the executor's wait for named volumes.
kn_add_test(runtime_volume_tests
  runtime/volume_manager_test.cpp)
target_link_libraries(runtime_volume_tests PRIVATE kn_runtime kn_test_docker)
