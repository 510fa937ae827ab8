# The real `framering acquire` producing into real rings, read by consumers in the test process.
framering_add_test(test_acquire_stage SOURCES test_acquire_stage.cpp LABELS multiprocess TIMEOUT 120 PREFIX "acquire."
  LIBS ${OpenCV_LIBS})
target_include_directories(test_acquire_stage SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
# GenICam cameras through Aravis, against Aravis' GigE Vision emulator on loopback. The emulator
# binds the fixed GVCP port 3956, hence the lock. test_camera_opencv: V4L2 errors and a video file.
# Label threads: Aravis' stream, heartbeat and (after an outage) finaliser threads, under TSan.
# Label aravis: `ctest -LE aravis` leaves the emulator alone (one emulator per machine at a time).
framering_add_test(test_camera_aravis SOURCES test_camera_aravis.cpp LABELS multiprocess threads aravis TIMEOUT 120 PREFIX "acquire."
  RESOURCE_LOCK aravis_emulator LIBS framering::civetweb)
framering_add_test(test_camera_opencv SOURCES test_camera_opencv.cpp LABELS multiprocess TIMEOUT 60 PREFIX "acquire."
  LIBS ${OpenCV_LIBS})
target_include_directories(test_camera_opencv SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
