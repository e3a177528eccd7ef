# Handshake flood (issue 7): flood_tool blasts garbage, valid-mac1 initiations
# from spoofed sources and replays of a captured initiation at a sitelinkd hub
# in network namespaces, while two legitimate peers keep pinging through it
# and rekey. Quick mode here; `flood.sh --full` is the long run.
add_executable(flood_tool ${CMAKE_CURRENT_LIST_DIR}/flood_tool.cc)
target_link_libraries(flood_tool PRIVATE sitelink_handshake)
target_compile_options(flood_tool PRIVATE -Wsign-conversion)

add_test(NAME stress.flood
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/flood.sh --quick
          $<TARGET_FILE:sitelinkd> $<TARGET_FILE:sitelink> $<TARGET_FILE:flood_tool>)
set_tests_properties(stress.flood PROPERTIES LABELS "stress;netns" TIMEOUT 240 RUN_SERIAL TRUE)
