# `framering led` across real processes: ring_peer produces, framering led writes the mmap file,
# the preview and E1.31; test_led_ola checks what a real receiver (OLA's olad) got.
framering_add_test(test_led_stage SOURCES test_led_stage.cpp LABELS multiprocess threads TIMEOUT 120 PREFIX "led."
  LIBS ${OpenCV_LIBS})
target_include_directories(test_led_stage SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
# olad listens on fixed ports (UDP 5568, TCP 9010): never two at once under ctest -j.
add_executable(test_led_ola test_led_ola.cpp)
target_link_libraries(test_led_ola PRIVATE framering_test_support GTest::gtest_main framering::warnings)
add_dependencies(test_led_ola framering ring_peer)
if(FRAMERING_PCH)
  target_precompile_headers(test_led_ola REUSE_FROM framering_test_pch)
endif()
gtest_discover_tests(test_led_ola TEST_PREFIX "led." DISCOVERY_TIMEOUT 30
  PROPERTIES LABELS multiprocess TIMEOUT 120 RESOURCE_LOCK olad)
