# acquire/: scenes, the pattern source and the file source, in one process.
framering_add_test(test_acquire_pattern SOURCES test_acquire_pattern.cpp LABELS unit TIMEOUT 30 PREFIX "acquire." LIBS framering::acquire)
# OpenCV reads OPENCV_IO_MAX_IMAGE_PIXELS when it loads: 1 Mpx, as fuzz/run.sh sets it, so that
# the fuzzer's inputs (headers claiming more) reproduce here byte for byte.
framering_add_test(test_acquire_files SOURCES test_acquire_files.cpp LABELS unit TIMEOUT 30 PREFIX "acquire."
  LIBS framering::acquire ${OpenCV_LIBS} ENVIRONMENT OPENCV_IO_MAX_IMAGE_PIXELS=1048576)
target_include_directories(test_acquire_files SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
framering_add_test(test_acquire_aravis_source SOURCES test_acquire_aravis_source.cpp LABELS unit TIMEOUT 30 PREFIX "acquire."
  LIBS framering::acquire)
