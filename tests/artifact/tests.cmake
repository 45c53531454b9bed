# The self-contained artifact (packaging/artifact.cmake): the tarball in a chroot holding only
# glibc, install.sh on a scratch root, the sysext image. Label `artifact`; needs root (chroot,
# mount). KN_ARTIFACT_TARBALL / KN_ARTIFACT_RAW point it at another build's artifact.
add_executable(artifact_tests artifact/artifact_test.cpp)
target_link_libraries(artifact_tests PRIVATE kn_test_main kn_test_support kn_options kn_core)
target_compile_definitions(artifact_tests PRIVATE
  KN_ARTIFACT_TARBALL_PATH="${KN_ARTIFACT_TARBALL}" KN_ARTIFACT_RAW_PATH="${KN_ARTIFACT_RAW}")
add_dependencies(artifact_tests artifact kontena-agent kontena-bootstrap)
catch_discover_tests(artifact_tests TEST_PREFIX "artifact_tests:" PROPERTIES TIMEOUT 120 LABELS artifact)
