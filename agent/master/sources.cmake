# Master link sources beyond the RPC codec: sans-io session, handshake, Beast I/O layer,
# the /nodes/update and /nodes/stats collectors.
target_sources(kn_master PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/handshake.cpp
  ${CMAKE_CURRENT_LIST_DIR}/session.cpp
  ${CMAKE_CURRENT_LIST_DIR}/node_stats.cpp
  ${CMAKE_CURRENT_LIST_DIR}/node_info.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tls_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/websocket_link.cpp
  # `kontena-agent run` and `doctor` wire the link to IMDS, Docker and systemd; they need kn_master.
  ${CMAKE_CURRENT_LIST_DIR}/../app/run_command.cpp
  ${CMAKE_CURRENT_LIST_DIR}/../app/doctor_command.cpp)
