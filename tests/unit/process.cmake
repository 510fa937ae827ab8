# process/: the Fourier filter (masks, round trip, clamping, log power) and FFTW wisdom.
framering_add_test(test_process_fourier_filter SOURCES test_process_fourier_filter.cpp LABELS unit threads TIMEOUT 60
  PREFIX "process."
  LIBS framering::process)
framering_add_test(test_process_filter_mask SOURCES test_process_filter_mask.cpp LABELS unit TIMEOUT 30 PREFIX "process."
  LIBS framering::process)
framering_add_test(test_process_fftw_planner SOURCES test_process_fftw_planner.cpp LABELS unit TIMEOUT 60 PREFIX "process."
  LIBS framering::process)
framering_add_test(test_process_fft_plans SOURCES test_process_fft_plans.cpp LABELS unit TIMEOUT 60 PREFIX "process."
  LIBS framering::process)
