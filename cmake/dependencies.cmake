# Every dependency comes from Debian 12 packages (scripts/install-deps.sh).
# Boost 1.81 is required for boost::system::result and Boost.URL.
if(KN_STATIC_CXX)
  set(Boost_USE_STATIC_LIBS ON)
endif()
find_package(Boost 1.81.0 EXACT CONFIG REQUIRED COMPONENTS system url)
find_package(CURL REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)
find_package(spdlog REQUIRED)

# KN_STATIC_CXX (release preset): every C++ library goes into the binaries, so nothing loaded at
# run time needs libstdc++.so and it can be linked statically too. What is left dynamic is C:
# libcurl and its chain, OpenSSL, libsystemd and glibc. Each shared library the loader maps
# costs symbol lookups for every relocation of every other one (BENCHMARKS.md, process start),
# and the self-contained tarball carries fewer files.
#   yaml-cpp and Boost.URL: Debian ships the archives (libyaml-cpp.a, libboost_url.a).
#   spdlog and fmt: Debian ships no archives, but both are header-only libraries on request.
#   libstdc++, libgcc: -static-libstdc++ -static-libgcc; safe only because none of the
#   remaining shared libraries is C++ (checked by the process-start benchmark's library list).
# Sanitizers replace operator new in their own shared runtime, so they keep the shared one.
add_library(kn_cxx_deps INTERFACE)
if(KN_STATIC_CXX)
  if(KN_SANITIZE)
    message(FATAL_ERROR "KN_STATIC_CXX and KN_SANITIZE do not go together: the sanitizer runtimes need the shared libstdc++; turn one off")
  endif()
  find_library(KN_YAML_CPP_ARCHIVE NAMES libyaml-cpp.a REQUIRED)
  target_link_libraries(kn_cxx_deps INTERFACE ${KN_YAML_CPP_ARCHIVE} Threads::Threads)
  target_compile_definitions(kn_cxx_deps INTERFACE SPDLOG_FMT_EXTERNAL FMT_HEADER_ONLY)
  target_link_options(kn_cxx_deps INTERFACE -static-libstdc++ -static-libgcc)
else()
  target_link_libraries(kn_cxx_deps INTERFACE yaml-cpp spdlog::spdlog)
endif()
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
if(KN_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
endif()
