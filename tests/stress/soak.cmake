# Soak (issue 7): two gateways under continuous traffic with a rekey every
# few seconds; no loss, flat memory, no descriptor growth. Quick mode here
# (about 60 s); `soak.sh --full` runs 10 minutes.
add_test(NAME stress.soak
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/soak.sh --quick $<TARGET_FILE:sitelinkd> $<TARGET_FILE:sitelink>)
set_tests_properties(stress.soak PROPERTIES LABELS "stress;netns" TIMEOUT 240 RUN_SERIAL TRUE)
