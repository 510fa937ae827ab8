# display/ across real processes: ring_peer produces, `framering display` shows or snapshots.
framering_add_test(test_display_snapshots SOURCES test_display_snapshots.cpp LABELS multiprocess TIMEOUT 120
  PREFIX "display." LIBS ${OpenCV_LIBS})
# Starts its own Xvfb (skips when Xvfb or ImageMagick's import is missing).
framering_add_test(test_display_window SOURCES test_display_window.cpp LABELS multiprocess TIMEOUT 120
  PREFIX "display." LIBS ${OpenCV_LIBS})
foreach(t test_display_snapshots test_display_window)
  target_include_directories(${t} SYSTEM PRIVATE ${OpenCV_INCLUDE_DIRS})
endforeach()
