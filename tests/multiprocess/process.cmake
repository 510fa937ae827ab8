# process/: `framering process` between real producers and consumers.
framering_add_test(test_process_stage SOURCES test_process_stage.cpp LABELS multiprocess threads TIMEOUT 120 PREFIX "process."
  LIBS framering::process ${OpenCV_LIBS})
target_include_directories(test_process_stage SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
