framering_add_test(test_supervise_pipeline_config SOURCES test_supervise_pipeline_config.cpp LABELS unit TIMEOUT 30
  LIBS framering::supervise)
framering_add_test(test_supervise_stage_plan SOURCES test_supervise_stage_plan.cpp LABELS unit TIMEOUT 30
  LIBS framering::supervise)
# Label threads: RunService is the one object the HTTP threads and the supervisor loop share.
framering_add_test(test_supervise_http SOURCES test_supervise_http.cpp LABELS unit threads TIMEOUT 30
  LIBS framering::supervise)
# Label threads: each live view has a sender thread beside civetweb's (LiveStream, on a real ring).
framering_add_test(test_supervise_live_view SOURCES test_supervise_live_view.cpp LABELS unit threads TIMEOUT 60
  LIBS framering::supervise)
# A stage's control channel (stage::Control) against the supervisor's side (LiveParams) over a
# real socketpair; label threads: the stage's side is made on a second thread.
framering_add_test(test_common_stage_control SOURCES test_common_stage_control.cpp LABELS unit threads TIMEOUT 30
  LIBS framering::supervise)
