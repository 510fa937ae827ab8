# bridge/: `framering bridge send` -> `framering bridge receive` across an ipc:// or loopback
# tcp:// endpoint: order, content, resume after either side is killed, gaps, live mode, CURVE.
framering_add_test(test_bridge SOURCES test_bridge.cpp LABELS multiprocess TIMEOUT 300 PREFIX "bridge.")
