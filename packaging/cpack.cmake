# Debian package and RPM: both binaries in /usr/bin and the shipped units (the same files `render`
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
set(CPACK_GENERATOR "DEB;RPM")
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
# RPM (Debian's `rpm` package provides rpmbuild): the same files. rpmbuild's dependency
# generator adds the shared-library requirements (libcurl.so.4()(64bit), ...), as shlibdeps
# does for the .deb.
set(CPACK_RPM_FILE_NAME RPM-DEFAULT)
set(CPACK_RPM_PACKAGE_GROUP "System Environment/Daemons")
set(CPACK_RPM_PACKAGE_SUGGESTS "docker")
# No /usr/lib/.build-id links: the package holds the same files as the .deb.
set(CPACK_RPM_SPEC_MORE_DEFINE "%define _build_id_links none")
# Directories the distribution's filesystem and systemd packages own; the package must not
# claim them (rpm would report a conflict with filesystem).
set(CPACK_RPM_EXCLUDE_FROM_AUTO_FILELIST_ADDITION
    /usr/lib/systemd /usr/lib/systemd/system /usr/share/doc)
include(CPack)
