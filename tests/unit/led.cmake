# led/ (`framering led`): polar map, colour steps, preview, mmap file, E1.31 packets.
framering_add_test(test_led_map SOURCES test_led_map.cpp LABELS unit TIMEOUT 30 PREFIX "led."
  LIBS framering::led ${OpenCV_LIBS})
framering_add_test(test_led_sinks SOURCES test_led_sinks.cpp LABELS unit threads TIMEOUT 30 PREFIX "led."
  LIBS framering::led)
target_include_directories(test_led_map SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
