# Security (issue 14 item 5; docs/fault-matrix.md "Security").
#
# No secret in any argv or log the suite produced: tests/support/record.hpp records them under
# build/test-records/; `security_records_reset` clears that folder before the first test and
# `security_no_secrets_in_records` scans it after the last (ctest fixture "test_records", which
# every Catch test requires, see kn_add_test), so it runs whatever subset ctest selects.
add_test(NAME security_records_reset COMMAND ${CMAKE_COMMAND} -E rm -rf ${PROJECT_BINARY_DIR}/test-records)
set_tests_properties(security_records_reset PROPERTIES FIXTURES_SETUP test_records LABELS security)
add_test(NAME security_no_secrets_in_records
         COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/scan-secrets.py
                 --records ${PROJECT_BINARY_DIR}/test-records
                 --known ${CMAKE_CURRENT_LIST_DIR}/known-secrets.txt)
set_tests_properties(security_no_secrets_in_records PROPERTIES FIXTURES_CLEANUP test_records LABELS security
                     TIMEOUT 120)
# The scan can fail: a secret planted in an argv, a log, or the known list is reported.
add_test(NAME security_scan_selftest COMMAND /usr/bin/python3 ${PROJECT_SOURCE_DIR}/scripts/scan-secrets.py --self-test)
set_tests_properties(security_scan_selftest PROPERTIES LABELS security TIMEOUT 60)

# kontena-agent.service keeps systemd's exposure level at 2.5 or better.
add_test(NAME security_agent_unit_exposure
         COMMAND /usr/bin/python3 ${CMAKE_CURRENT_LIST_DIR}/unit_exposure.py
                 ${PROJECT_SOURCE_DIR}/systemd/kontena-agent.service --limit 2.5)
set_tests_properties(security_agent_unit_exposure PROPERTIES LABELS security TIMEOUT 180)

# Secret files are created 0600 (core/atomic_file.hpp), checked with inotify.
kn_add_test(security_tests security/secret_files_test.cpp)
target_link_libraries(security_tests PRIVATE kn_core)
