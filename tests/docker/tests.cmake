# Tests of the docker area. The dockerd-backed cases start a real dockerd (Debian docker.io)
# on a private socket; they fail (never pass silently) when dockerd is missing or not root.
kn_add_test(docker_tests
  docker/daemon_json_test.cpp
  docker/dockerd_flags_test.cpp
  docker/engine_client_test.cpp
  docker/label_applier_test.cpp
  docker/label_apply_cli_test.cpp
  docker/service_manager_test.cpp
  docker/http_stream_test.cpp
  docker/image_ref_test.cpp
  docker/container_api_test.cpp
  docker/event_stream_test.cpp)
