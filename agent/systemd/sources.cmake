# systemd integration: service manager over sd-bus (libsystemd comes with kn_core).
target_sources(kn_agent PRIVATE ${CMAKE_CURRENT_LIST_DIR}/service_manager.cpp)
# sd_notify for the agent's Type=notify unit (master-link work).
target_sources(kn_agent PRIVATE ${CMAKE_CURRENT_LIST_DIR}/notifier.cpp)
