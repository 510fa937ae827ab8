# record/: the TIFF writer read back with libtiff, the recording's index, tally, rotation and
# resume repair, and inspect on truncated files and a missing index.
framering_add_test(test_record_tiff_stack_writer SOURCES test_record_tiff_stack_writer.cpp LABELS unit TIMEOUT 60
  PREFIX "record." LIBS framering::record PkgConfig::LIBTIFF)
