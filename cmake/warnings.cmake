# Warning and sanitizer flags live on INTERFACE targets that project targets link PRIVATE,
# so dependencies' headers (included as SYSTEM) are never held to them.
add_library(kn_warnings INTERFACE)
target_compile_options(kn_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
  -Wnon-virtual-dtor -Wold-style-cast -Wcast-align -Woverloaded-virtual
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough
  # Not -Wnull-dereference: with -O2, GCC 12 reports it inside libstdc++ and CLI11 inlined code
  # (false positives), which would break the release preset under -Werror.
  # Designated initializers leave fields at their defaults on purpose.
  -Wno-missing-field-initializers)
if(KN_WARNINGS_AS_ERRORS)
  target_compile_options(kn_warnings INTERFACE -Werror)
endif()

add_library(kn_sanitizers INTERFACE)
# KN_SANITIZE: ON (ASan + UBSan, the dev preset: every test runs under them), thread (TSan, the
# tsan preset) or OFF. -fno-sanitize-recover makes the first UBSan finding fatal, as ASan's are,
# so a child process (agent, simulator) with a finding exits non-zero and its test fails.
if(KN_SANITIZE STREQUAL "thread")
  # -Wno-tsan: GCC warns that TSan does not model std::atomic_thread_fence, which Boost.Asio's
  # headers use (boost/asio/detail/std_fenced_block.hpp); not ours to change, and -Werror would
  # stop the build on it. https://gcc.gnu.org/onlinedocs/gcc/Warning-Options.html#index-Wtsan
  target_compile_options(kn_sanitizers INTERFACE -fsanitize=thread -fno-omit-frame-pointer -Wno-tsan)
  target_link_options(kn_sanitizers INTERFACE -fsanitize=thread)
elseif(KN_SANITIZE)
  target_compile_options(kn_sanitizers INTERFACE
    -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_link_options(kn_sanitizers INTERFACE -fsanitize=address,undefined)
endif()
if(KN_FUZZ)
  # Coverage feedback for libFuzzer in every project library; only fuzz/ executables link
  # the libFuzzer main (-fsanitize=fuzzer, fuzz/CMakeLists.txt).
  target_compile_options(kn_sanitizers INTERFACE -fsanitize=fuzzer-no-link)
endif()

add_library(kn_options INTERFACE)
target_link_libraries(kn_options INTERFACE kn_warnings kn_sanitizers)
