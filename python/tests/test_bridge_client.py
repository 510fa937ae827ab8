"""A receiver of `framering bridge send` written from docs/bridge-protocol.md alone, with
python3-zmq and numpy and nothing of ours: the proof that the page is enough. It plays the far
side of a lossless (every) session: WELCOME; each FRAME held until its VERDICT says the sender's
slot stayed intact while it was sent, then checked against the sequence pattern
pixel = (sequence + x + 3y) & 0xFFFF and acknowledged with a CREDIT; then the sender's END.
Run by CTest with /usr/bin/python3 (python/CMakeLists.txt); every wait has a deadline.
"""
import json
import os
import signal
import struct
import subprocess
import tempfile
import time
import unittest

import numpy as np
import zmq

FRAMERING = os.environ.get("FRAMERING_BIN", "framering")
HEADER = struct.Struct("<4sBBHII6Q")  # magic, type, flags, version, epoch, reserved, 6 x u64
HELLO, FRAME, END, VERDICT, WELCOME, CREDIT = 1, 2, 3, 4, 16, 17
GAP, VERDICT_FOLLOWS, INTACT = 0x01, 0x02, 0x01  # FRAME flags; VERDICT flag
VERSION = 2
W, H, FRAMES, WINDOW = 64, 48, 300, 4


def header(kind, epoch, sequence=0, granted=0):
    return HEADER.pack(b"FRB1", kind, 0, VERSION, epoch, 0, sequence, granted, 0, 0, 0, 0)


def pattern(sequence):
    y, x = np.mgrid[0:H, 0:W]
    return ((sequence + x + 3 * y) & 0xFFFF).astype("<u2")


class BridgeClient(unittest.TestCase):
    def setUp(self):
        signal.alarm(120)  # the watchdog
        self.instance = f"pyb{os.getpid()}"
        self.tmp = tempfile.TemporaryDirectory(prefix="framering-bridge-py-")
        self.endpoint = f"ipc://{self.tmp.name}/bridge.sock"
        self.children = []

    def tearDown(self):
        signal.alarm(0)
        for child in self.children:
            if child.poll() is None:
                child.kill()
                child.wait()
        for name in os.listdir("/dev/shm"):
            if name.startswith(f"framering.{self.instance}."):
                os.unlink(os.path.join("/dev/shm", name))
        self.tmp.cleanup()

    def start(self, *args):
        child = subprocess.Popen([FRAMERING, *args, "--instance", self.instance], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        self.children.append(child)
        return child

    def test_a_python_receiver_gets_every_frame_from_bridge_send(self):
        context = zmq.Context()
        router = context.socket(zmq.ROUTER)
        router.bind(self.endpoint)
        sender = self.start("bridge", "send", "--ring", "raw", "--to", self.endpoint, "--ack-timeout-s", "2")
        acquire = self.start("acquire", "--scene", "testpattern", "--width", str(W), "--height", str(H),
                             "--rate-hz", "0", "--frames", str(FRAMES), "--wait-for-consumers", "1",
                             "--claim-timeout-ms", "60000")
        poller = zmq.Poller()
        poller.register(router, zmq.POLLIN)

        def receive(deadline_s=30):
            deadline = time.monotonic() + deadline_s
            while time.monotonic() < deadline:
                if poller.poll(100):
                    return router.recv_multipart()
            self.fail(f"nothing from the sender in {deadline_s} s: {sender.stderr.read() if sender.poll() else ''}")

        peer, head, body = receive()
        magic, kind, _, version, epoch, *_ = HEADER.unpack(head)
        self.assertEqual((magic, kind, version), (b"FRB1", HELLO, VERSION))
        hello = json.loads(body)
        self.assertEqual((hello["width"], hello["height"], hello["pixel_format"]), (W, H, "Mono16"))
        self.assertEqual(hello["mode"], "every")
        stride = hello["stride_bytes"]
        next_sequence = hello["first_sequence"]
        self.assertEqual(next_sequence, 0)
        router.send_multipart([peer, header(WELCOME, epoch, next_sequence, WINDOW), json.dumps({}).encode()])

        received = 0
        held = {}  # sequence -> (header fields, pixels): sent from the sender's slot, not judged yet
        verdicts = 0
        while received < FRAMES:
            parts = receive()
            _, kind, flags, _, msg_epoch, _, sequence, timestamp, camera_id, source_lost, _, _ = HEADER.unpack(parts[1])
            if msg_epoch != epoch:
                continue
            if kind == FRAME:
                self.assertEqual(flags, VERDICT_FOLLOWS, "no gap; every mode sends from the slot")
                held[sequence] = (timestamp, camera_id, parts[2])
                continue
            if kind != VERDICT:
                continue
            verdicts += 1
            self.assertEqual(flags, INTACT, f"frame {sequence} intact: nothing evicted the sender")
            self.assertEqual(sequence, next_sequence, "in order, each once")
            timestamp, camera_id, body = held.pop(sequence)
            self.assertEqual(camera_id, sequence)
            self.assertGreater(timestamp, 1_600_000_000 * 10**9)
            pixels = np.frombuffer(body, dtype="<u2").reshape(H, stride // 2)[:, :W]
            np.testing.assert_array_equal(pixels, pattern(sequence))
            next_sequence += 1
            received += 1
            router.send_multipart([peer, header(CREDIT, epoch, next_sequence, received + WINDOW)])
        self.assertEqual(verdicts, FRAMES, "one VERDICT per frame")
        self.assertEqual(held, {}, "no frame sent without its VERDICT")

        self.assertEqual(acquire.wait(timeout=30), 0)
        sender.send_signal(signal.SIGTERM)
        while True:
            _, head, *rest = receive()
            _, kind, _, _, msg_epoch, _, sequence, *_ = HEADER.unpack(head)
            if kind == END:
                self.assertEqual(sequence, FRAMES, "END names the sequence after the last frame")
                break
        self.assertEqual(sender.wait(timeout=30), 0, sender.stderr.read())
        router.close(0)
        context.term()


if __name__ == "__main__":
    unittest.main()
