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
