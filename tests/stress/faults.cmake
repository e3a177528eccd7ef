# Underlay fault tests (issue 7): two gateways with loss, delay and jitter,
# reordering, duplication and an outage between them, by `tc netem` where the
# kernel has it and otherwise through impair_relay, a userspace UDP relay in
# the middle namespace. tests/stress/faults.sh --full runs the long version.
add_executable(impair_relay ${CMAKE_CURRENT_LIST_DIR}/impair_relay.cc)
add_test(NAME stress.faults
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/faults.sh --quick
          $<TARGET_FILE:sitelinkd> $<TARGET_FILE:sitelink> $<TARGET_FILE:impair_relay>)
set_tests_properties(stress.faults PROPERTIES LABELS "stress;netns" TIMEOUT 300 RUN_SERIAL TRUE)
