# acquire/: scenes, the pattern source and the file source, in one process.
framering_add_test(test_acquire_pattern SOURCES test_acquire_pattern.cpp LABELS unit TIMEOUT 30 PREFIX "acquire." LIBS framering::acquire)
framering_add_test(test_acquire_files SOURCES test_acquire_files.cpp LABELS unit TIMEOUT 30 PREFIX "acquire."
  LIBS framering::acquire ${OpenCV_LIBS})
target_include_directories(test_acquire_files SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
framering_add_test(test_acquire_aravis_source SOURCES test_acquire_aravis_source.cpp LABELS unit TIMEOUT 30 PREFIX "acquire."
  LIBS framering::acquire)
