# `cmake --build <dir> --target artifact`: the self-contained artifact for hosts without a
# package manager (Container Linux, Flatcar), in ${CMAKE_BINARY_DIR}/artifact/:
#   kontena-node-VERSION-x86_64.tar.gz  bin/, lib/ (bundled libraries), systemd/, examples/,
#                                       etc/agent.yml, install.sh (into /opt/kontena-node)
#   kontena-node-VERSION-x86-64.raw     systemd-sysext image (squashfs) for /etc/extensions/
# packaging/make-artifact.cmake does the work; README "Install" describes both.
find_program(KN_PATCHELF patchelf)
find_program(KN_MKSQUASHFS mksquashfs PATHS /usr/sbin /sbin)
find_program(KN_TAR tar)

set(KN_ARTIFACT_DIR ${CMAKE_BINARY_DIR}/artifact)
set(KN_ARTIFACT_TARBALL ${KN_ARTIFACT_DIR}/kontena-node-${PROJECT_VERSION}-x86_64.tar.gz)
set(KN_ARTIFACT_RAW ${KN_ARTIFACT_DIR}/kontena-node-${PROJECT_VERSION}-x86-64.raw)

set(kn_artifact_inputs
  ${PROJECT_SOURCE_DIR}/packaging/make-artifact.cmake
  ${PROJECT_SOURCE_DIR}/packaging/install.sh
  ${PROJECT_SOURCE_DIR}/packaging/agent.yml
  ${PROJECT_SOURCE_DIR}/systemd/kontena-bootstrap.service
  ${PROJECT_SOURCE_DIR}/systemd/kontena-agent.service)
file(GLOB_RECURSE kn_cloud_config CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/cloud-config/*)

if(NOT KN_PATCHELF OR NOT KN_MKSQUASHFS OR NOT KN_TAR)
  add_custom_target(artifact
    COMMAND ${CMAKE_COMMAND} -E echo "failed to build the artifact: patchelf, mksquashfs or tar is missing; run scripts/install-deps.sh and configure again"
    COMMAND ${CMAKE_COMMAND} -E false)
  return()
endif()

add_custom_command(
  OUTPUT ${KN_ARTIFACT_TARBALL} ${KN_ARTIFACT_RAW}
  COMMAND ${CMAKE_COMMAND}
          -DAGENT=$<TARGET_FILE:kontena-agent> -DBOOTSTRAP=$<TARGET_FILE:kontena-bootstrap>
          -DSOURCE_DIR=${PROJECT_SOURCE_DIR} -DOUT_DIR=${KN_ARTIFACT_DIR}
          -DVERSION=${PROJECT_VERSION} -DSTRIP=${CMAKE_STRIP} -DPATCHELF=${KN_PATCHELF}
          -DMKSQUASHFS=${KN_MKSQUASHFS} -DTAR=${KN_TAR}
          -P ${PROJECT_SOURCE_DIR}/packaging/make-artifact.cmake
  DEPENDS kontena-agent kontena-bootstrap ${kn_artifact_inputs} ${kn_cloud_config}
  COMMENT "Packing the self-contained artifact (tarball and sysext image)"
  VERBATIM)
add_custom_target(artifact DEPENDS ${KN_ARTIFACT_TARBALL} ${KN_ARTIFACT_RAW})
