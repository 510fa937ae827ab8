# bridge/: `framering bridge send` -> `framering bridge receive` across an ipc:// or loopback
# tcp:// endpoint: order, content, resume after either side is killed, gaps, live mode, CURVE.
# Label threads: ZeroMQ's I/O thread frees the frames sent from their slots (a callback into
# ours) and runs the ZAP handler, under TSan.
framering_add_test(test_bridge SOURCES test_bridge.cpp LABELS multiprocess threads TIMEOUT 300 PREFIX "bridge.")
