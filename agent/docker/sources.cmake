# Docker engine client and label application (owned by the Docker-labels work).
target_sources(kn_agent PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/engine_client.cpp
  ${CMAKE_CURRENT_LIST_DIR}/daemon_json.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dockerd_flags.cpp
  ${CMAKE_CURRENT_LIST_DIR}/reloader.cpp
  ${CMAKE_CURRENT_LIST_DIR}/label_applier.cpp
  ${CMAKE_CURRENT_LIST_DIR}/label_keeper.cpp
  ${CMAKE_CURRENT_LIST_DIR}/apply_command.cpp)
# Containers, images and events for the node runtime (contract A).
target_sources(kn_agent PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/image_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/container_api.cpp
  ${CMAKE_CURRENT_LIST_DIR}/event_stream.cpp)
# X-Registry-Auth is base64url (EVP_EncodeBlock).
target_link_libraries(kn_agent PUBLIC OpenSSL::Crypto)
