# record/: `framering record` against a real producer (ring_peer), read back by tifffile
# (/usr/bin/python3), tiffinfo and ImageJ; drain, SIGKILL recovery, full disk, bad folders.
# Label threads: the recorder writes on its part writer's I/O thread (TSan runs them).
framering_add_test(test_record_stage SOURCES test_record_stage.cpp LABELS multiprocess threads TIMEOUT 180 PREFIX "record."
  LIBS framering::record)
