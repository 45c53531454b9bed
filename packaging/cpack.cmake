# Debian package: both binaries in /usr/bin and the shipped units (the same files `render`
# embeds) in /usr/lib/systemd/system. `cmake --build build --target package` (or `cpack`).
install(TARGETS kontena-bootstrap RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
install(FILES
  ${PROJECT_SOURCE_DIR}/systemd/kontena-bootstrap.service
  ${PROJECT_SOURCE_DIR}/systemd/kontena-agent.service
  DESTINATION lib/systemd/system COMPONENT runtime)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/cloud-config/
  DESTINATION ${CMAKE_INSTALL_DATADIR}/doc/kontena-node/examples COMPONENT runtime)

# The units name /usr/bin/kontena-*, so the package installs under /usr.
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kontena-node)
set(CPACK_PACKAGE_VENDOR "kontena-node")
set(CPACK_PACKAGE_CONTACT "kontena-node maintainers <root@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
# Shared-library dependencies from the binaries (libcurl, yaml-cpp, spdlog, Boost 1.81, ...).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# The release preset builds with -g; the package ships stripped binaries (about 3 MB, not 160).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "docker.io")
include(CPack)
