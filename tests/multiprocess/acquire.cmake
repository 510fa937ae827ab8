# The real `framering acquire` producing into real rings, read by consumers in the test process.
framering_add_test(test_acquire_stage SOURCES test_acquire_stage.cpp LABELS multiprocess TIMEOUT 120 PREFIX "acquire."
  LIBS ${OpenCV_LIBS})
target_include_directories(test_acquire_stage SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
