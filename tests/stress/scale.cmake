# Scale (issue 7): one hub sitelinkd with many configured peers, driven by
# scale_spokes, which plays every spoke from one process.
add_executable(scale_spokes ${CMAKE_CURRENT_LIST_DIR}/scale_spokes.cc)
target_link_libraries(scale_spokes PRIVATE sitelink_handshake sitelink_tunnel)
target_compile_options(scale_spokes PRIVATE -Wsign-conversion)

add_test(NAME stress.scale
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/scale.sh --quick $<TARGET_FILE:sitelinkd> $<TARGET_FILE:sitelink>
          $<TARGET_FILE:scale_spokes>)
set_tests_properties(stress.scale PROPERTIES LABELS "stress;netns" TIMEOUT 240 RUN_SERIAL TRUE)
