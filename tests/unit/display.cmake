# display/: contrast stretch, colour maps, rendering and snapshot files (one process, no window).
framering_add_test(test_display_contrast SOURCES test_display_contrast.cpp LABELS unit TIMEOUT 30 PREFIX "display."
  LIBS framering::display ${OpenCV_LIBS})
framering_add_test(test_display_snapshot_writer SOURCES test_display_snapshot_writer.cpp LABELS unit TIMEOUT 30
  PREFIX "display." LIBS framering::display ${OpenCV_LIBS})
foreach(t test_display_contrast test_display_snapshot_writer)
  target_include_directories(${t} SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
endforeach()
