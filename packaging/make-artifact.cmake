# Script mode (cmake -P), run by the `artifact` target (packaging/artifact.cmake): builds the
# self-contained tarball and the systemd-sysext image from the two binaries.
#
# Inputs (-D): AGENT, BOOTSTRAP (built binaries), SOURCE_DIR, OUT_DIR, VERSION, STRIP, PATCHELF,
# MKSQUASHFS, TAR.
#
# Bundling: every shared library the dynamic loader maps for either binary, except glibc's own,
# is copied into lib/ and found through RUNPATH: `$ORIGIN/../lib` on the binaries, `$ORIGIN` on
# each library (DT_RUNPATH applies only to the object's own DT_NEEDED entries, so libcurl must
# carry one to find libnghttp2: https://man7.org/linux/man-pages/man8/ld.so.8.html). Static
# linking is not open to us: Debian 12 ships no archives for libsystemd, spdlog, fmt or most of
# libcurl's dependency tree (nghttp2, ssh2, rtmp, psl, gssapi, ldap). README "Install" has the
# measurements.
cmake_minimum_required(VERSION 3.25)

foreach(var AGENT BOOTSTRAP SOURCE_DIR OUT_DIR VERSION STRIP PATCHELF MKSQUASHFS TAR)
  if(NOT DEFINED ${var} OR "${${var}}" STREQUAL "")
    message(FATAL_ERROR "failed to build the artifact: ${var} is not set (run it from the `artifact` target)")
  endif()
endforeach()

set(name kontena-node-${VERSION})
set(stage ${OUT_DIR}/stage)
set(top ${stage}/${name})
set(sysext ${stage}/sysext)
set(tarball ${OUT_DIR}/${name}-x86_64.tar.gz)
set(raw ${OUT_DIR}/${name}-x86-64.raw)

# Same inputs, same bytes: the tarball and the image carry one fixed time.
if(DEFINED ENV{SOURCE_DATE_EPOCH})
  set(epoch $ENV{SOURCE_DATE_EPOCH})
else()
  execute_process(COMMAND git -C ${SOURCE_DIR} log -1 --format=%ct
                  OUTPUT_VARIABLE epoch OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0 OR epoch STREQUAL "")
    set(epoch 0)
  endif()
endif()

function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
  if(NOT rc EQUAL 0)
    string(REPLACE "\n" " " err "${err}")
    list(JOIN ARGN " " cmd)
    message(FATAL_ERROR "failed to run ${cmd}: exit ${rc}: ${err}")
  endif()
endfunction()

# What the dynamic loader maps for `binary`: LD_TRACE_LOADED_OBJECTS makes ld.so list the
# objects and exit without running main (what ldd does). Lines are "soname => /path (0x...)".
function(loaded_libraries binary out)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env LD_TRACE_LOADED_OBJECTS=1 ${binary}
                  OUTPUT_VARIABLE text RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed to list the shared libraries of ${binary}: ${err}")
  endif()
  if(text MATCHES "=> not found")
    message(FATAL_ERROR "failed to list the shared libraries of ${binary}: one is not found:\n${text}")
  endif()
  string(REGEX MATCHALL "=> (/[^ \t\n]+)" matches "${text}")
  set(paths "")
  foreach(m IN LISTS matches)
    string(REGEX REPLACE "^=> " "" p "${m}")
    list(APPEND paths ${p})
  endforeach()
  set(${out} ${paths} PARENT_SCOPE)
endfunction()

# glibc's own objects: the host provides them (Container Linux and Flatcar ship glibc).
set(glibc_regex "^(ld-linux.*|libc|libm|libmvec|libpthread|libdl|librt|libresolv|libutil|libanl|libnss_[a-z0-9]+|libBrokenLocale|libthread_db|libc_malloc_debug)\\.so")

file(REMOVE_RECURSE ${stage})
file(MAKE_DIRECTORY ${top}/bin ${top}/lib ${top}/systemd ${top}/examples ${top}/etc)

loaded_libraries(${AGENT} agent_libs)
loaded_libraries(${BOOTSTRAP} bootstrap_libs)
set(libs ${agent_libs} ${bootstrap_libs})
list(REMOVE_DUPLICATES libs)
set(bundled "")
foreach(lib IN LISTS libs)
  get_filename_component(soname ${lib} NAME)
  if(soname MATCHES "${glibc_regex}")
    continue()
  endif()
  # Copy the file the soname resolves to, under the soname (what DT_NEEDED asks for).
  file(REAL_PATH ${lib} real)
  file(COPY_FILE ${real} ${top}/lib/${soname})
  list(APPEND bundled ${soname})
endforeach()

file(COPY_FILE ${AGENT} ${top}/bin/kontena-agent)
file(COPY_FILE ${BOOTSTRAP} ${top}/bin/kontena-bootstrap)
foreach(b kontena-agent kontena-bootstrap)
  run(${STRIP} --strip-all ${top}/bin/${b})
  run(${PATCHELF} --set-rpath "$ORIGIN/../lib" ${top}/bin/${b})
endforeach()
foreach(soname IN LISTS bundled)
  file(CHMOD ${top}/lib/${soname} FILE_PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
  run(${STRIP} --strip-unneeded ${top}/lib/${soname})
  run(${PATCHELF} --set-rpath "$ORIGIN" ${top}/lib/${soname})
endforeach()
list(LENGTH bundled n_bundled)

# The units, with ExecStart= pointing at where install.sh puts the binaries.
foreach(unit kontena-bootstrap.service kontena-agent.service)
  file(READ ${SOURCE_DIR}/systemd/${unit} text)
  string(REPLACE "/usr/bin/kontena-" "/opt/kontena-node/bin/kontena-" text "${text}")
  file(WRITE ${top}/systemd/${unit} "${text}")
endforeach()

file(COPY ${SOURCE_DIR}/cloud-config DESTINATION ${top}/examples)
file(COPY_FILE ${SOURCE_DIR}/packaging/agent.yml ${top}/etc/agent.yml)
file(COPY_FILE ${SOURCE_DIR}/packaging/install.sh ${top}/install.sh)
file(CHMOD ${top}/install.sh FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
     GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
file(WRITE ${top}/VERSION "${VERSION}\n")

file(MAKE_DIRECTORY ${OUT_DIR})
# GNU tar: sorted names, root-owned entries, one mtime; gzip -n leaves out the name and time.
run(${TAR} --sort=name --owner=0 --group=0 --numeric-owner --mtime=@${epoch}
    -C ${stage} -cf ${OUT_DIR}/${name}-x86_64.tar ${name})
file(REMOVE ${tarball})
run(gzip -n -9 ${OUT_DIR}/${name}-x86_64.tar)

# The sysext image: /usr only (systemd-sysext merges nothing else), the binaries under their
# own folder so their RUNPATH finds the bundled libraries, and /usr/bin symlinks so the shipped
# units' ExecStart=/usr/bin/kontena-* stay right. The extension-release file's name must match
# the image's name without .raw, so the image is installed as /etc/extensions/kontena-node.raw
# (https://www.freedesktop.org/software/systemd/man/systemd-sysext.html).
file(MAKE_DIRECTORY ${sysext}/usr/bin ${sysext}/usr/lib/systemd/system ${sysext}/usr/lib/extension-release.d)
file(COPY ${top}/bin ${top}/lib DESTINATION ${sysext}/usr/lib/kontena-node)
foreach(b kontena-agent kontena-bootstrap)
  file(CREATE_LINK ../lib/kontena-node/bin/${b} ${sysext}/usr/bin/${b} SYMBOLIC)
endforeach()
foreach(unit kontena-bootstrap.service kontena-agent.service)
  file(COPY_FILE ${SOURCE_DIR}/systemd/${unit} ${sysext}/usr/lib/systemd/system/${unit})
endforeach()
# ID=_any: the image fits any distribution's /usr (Flatcar, Debian), so no VERSION_ID or
# SYSEXT_LEVEL is checked; systemd 252 accepts it (systemd v252: src/shared/extension-release.c).
# ARCHITECTURE is systemd's name for x86_64; another host refuses the image.
file(WRITE ${sysext}/usr/lib/extension-release.d/extension-release.kontena-node
     "ID=_any\nARCHITECTURE=x86-64\n")
file(REMOVE ${raw})
# Default (gzip) compression: every kernel with squashfs reads it, as Flatcar's sysext-bakery.
run(${MKSQUASHFS} ${sysext} ${raw} -all-root -noappend -no-xattrs -quiet -no-progress
    -mkfs-time ${epoch} -all-time ${epoch})

file(SIZE ${tarball} tar_size)
file(SIZE ${raw} raw_size)
message(STATUS "artifact: ${tarball} (${tar_size} bytes, ${n_bundled} bundled libraries)")
message(STATUS "artifact: ${raw} (${raw_size} bytes)")
