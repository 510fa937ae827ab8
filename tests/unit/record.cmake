# record/: the TIFF writer read back with libtiff, the recording's index, tally, rotation and
# resume repair, and inspect on truncated files and a missing index; pages in flight (a page
# linked and a frame indexed only once written whole). Label threads: every page goes through
# the writer's I/O thread, so the TSan preset runs them all.
framering_add_test(test_record_tiff_stack_writer SOURCES test_record_tiff_stack_writer.cpp LABELS unit threads TIMEOUT 60
  PREFIX "record." LIBS framering::record PkgConfig::LIBTIFF)
