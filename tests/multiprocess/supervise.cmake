framering_add_test(test_supervise_run SOURCES test_supervise_run.cpp LABELS multiprocess TIMEOUT 240)
# `framering run --http`: the HTTP API over real HTTP (civetweb's client), real recorders,
# promtool. Label threads: civetweb serves on its own threads in the supervisor (TSan runs them).
framering_add_test(test_http_api SOURCES test_http_api.cpp LABELS multiprocess threads TIMEOUT 300 PREFIX "http."
  LIBS framering::civetweb)
# The browser live view's server side: the page's files and the WebSocket of frames, with a real
# run and a WebSocket client of our own. Label threads: each live view has a sender thread.
framering_add_test(test_http_live_view SOURCES test_http_live_view.cpp LABELS multiprocess threads TIMEOUT 300
  PREFIX "http." LIBS framering::civetweb)
