"""What a Python stage under `framering run` is told, and its stop signal.

`framering run` gives every stage its instance, name and rings in FRAMERING_* environment
variables (docs/stages.md); a stage ends on SIGINT/SIGTERM (a producer stops, an every consumer
first takes what it owes). Both are the same for every stage, so they are here once::

    env = framering.stage_environment()          # instance, name, produces, consumes, frames, ...
    stop = framering.StopSignal()                # SIGINT/SIGTERM set it instead of raising
    while not stop:
        ...
"""
from __future__ import annotations

import json
import os
import signal
import time
from dataclasses import dataclass, field
from typing import List, Optional, Tuple


@dataclass
class StageEnvironment:
    """The stage's FRAMERING_* variables, parsed (defaults as outside `framering run`)."""

    instance: str = "default"                  #: FRAMERING_INSTANCE: rings are <instance>.<ring>
    name: str = ""                              #: FRAMERING_STAGE: use it as your consumer name
    log_level: str = "info"                     #: FRAMERING_LOG_LEVEL
    produces: List[str] = field(default_factory=list)              #: FRAMERING_PRODUCES
    consumes: List[Tuple[str, str]] = field(default_factory=list)  #: FRAMERING_CONSUMES: (ring, "newest"|"every")
    frames: int = 0                             #: FRAMERING_FRAMES: a source publishes this many, then ends (0: no limit)
    wait_for_consumers: int = 0                 #: FRAMERING_WAIT_FOR_CONSUMERS: a producer's consumers to wait for
    supervisor_pid: Optional[int] = None        #: FRAMERING_SUPERVISOR_PID, or None outside `framering run`

    def consumed(self, kind: str) -> List[str]:
        """The rings it consumes as `kind` ("newest" or "every")."""
        return [ring for ring, k in self.consumes if k == kind]


def stage_environment(environ=None, default_name: str = "") -> StageEnvironment:
    """Parses the FRAMERING_* variables of `environ` (default: os.environ). Raises ValueError
    naming the variable when one is malformed."""
    env = os.environ if environ is None else environ

    def number(key: str) -> int:
        text = env.get(key, "0") or "0"
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{key}={text!r}: expected a whole number") from None

    consumes = []
    for item in filter(None, env.get("FRAMERING_CONSUMES", "").split(",")):
        ring, _, kind = item.partition(":")
        if kind not in ("newest", "every"):
            raise ValueError(f"FRAMERING_CONSUMES item {item!r}: expected <ring>:newest or <ring>:every")
        consumes.append((ring, kind))
    pid = env.get("FRAMERING_SUPERVISOR_PID")
    return StageEnvironment(
        instance=env.get("FRAMERING_INSTANCE", "default"),
        name=env.get("FRAMERING_STAGE", default_name),
        log_level=env.get("FRAMERING_LOG_LEVEL", "info"),
        produces=[r for r in env.get("FRAMERING_PRODUCES", "").split(",") if r],
        consumes=consumes,
        frames=number("FRAMERING_FRAMES"),
        wait_for_consumers=number("FRAMERING_WAIT_FOR_CONSUMERS"),
        supervisor_pid=int(pid) if pid else None,
    )


class StopSignal:
    """SIGINT and SIGTERM set this flag instead of raising KeyboardInterrupt or ending the process,
    so a loop can finish its frame and exit 0 (an every consumer then drains: see Drain).
    True once a signal came: ``while not stop: ...``. Install it from the main thread."""

    def __init__(self) -> None:
        self.signal: Optional[int] = None
        signal.signal(signal.SIGTERM, self._set)
        signal.signal(signal.SIGINT, self._set)

    def _set(self, signum, _frame) -> None:
        self.signal = signum

    def __bool__(self) -> bool:
        return self.signal is not None


class Drain:
    """The drain of an *every* consumer at a stop, as the C++ stages do it (stage::Drain,
    docs/stages.md "Stops"): after the stop it reads on until what was published when the stop
    came; when the stop came from the death of its `framering run` (every stage got SIGTERM at
    once), it also takes what the producer publishes until it has left, for at most 5 s.
    Without it, frames it owes are neither recorded nor reported: its entry is freed on close.

        drain = framering.Drain(stop)
        while not drain.finished(reader):
            frame = reader.read(timeout_s=0.2)
            ...
    """

    LEAVE_WAIT_S = 5.0

    def __init__(self, stop: StopSignal, environment: Optional[StageEnvironment] = None) -> None:
        self._stop = stop
        self._env = environment if environment is not None else stage_environment()
        self._target: Optional[int] = None
        self._await_producer = False
        self._deadline = 0.0

    def finished(self, reader) -> bool:
        """False while no stop came, or while frames it owes remain; True once it may end. Call it
        once per loop turn, with the current frame released (read() releases the previous one)."""
        if not self._stop:
            return False
        if self._target is None:
            self._target = reader.published
            pid = self._env.supervisor_pid
            self._await_producer = pid is not None and os.getppid() != pid
            self._deadline = time.monotonic() + self.LEAVE_WAIT_S
        if reader.cursor < self._target:
            return False
        if not self._await_producer:
            return True
        # Liveness first, then `published`: a producer seen gone has published all it ever will.
        self._await_producer = reader.producer_alive and time.monotonic() < self._deadline
        self._target = reader.published
        return False


@dataclass
class Param:
    """One live parameter of a Python stage (the fields of ParamSpec in
    common/include/framering/common/stage_control.hpp): its starting value, and for numbers an
    inclusive range [min, max], for choices the allowed strings. ``live=False`` shows it but
    refuses changes (409: it needs a restart)."""

    value: object
    min: Optional[float] = None
    max: Optional[float] = None
    choices: Optional[List[str]] = None
    units: str = ""
    live: bool = True
    doc: str = ""

    def type_name(self) -> str:
        if self.choices is not None:
            return "choice"
        if isinstance(self.value, bool):
            return "boolean"
        if isinstance(self.value, int):
            return "integer"
        return "number"


class LiveParams:
    """A Python stage's live parameters under ``framering run --http`` (docs/http-api.md, "Live
    parameters"): ``PATCH /api/v1/stages/<name>/params`` reaches the stage between two frames::

        params = framering.LiveParams({"ridge_px": framering.Param(12.0, min=1, max=100, units="px")})
        while not stop:
            params.poll()                               # applies waiting changes (never blocks)
            ... draw with params["ridge_px"] ...
            with writer.claim() as frame:
                ...
                frame.settings_generation = params.generation
            params.took_effect(frame.sequence, ring)    # acknowledges them with this frame

    The channel is the end of a socketpair that ``framering run`` passes in FRAMERING_CONTROL_FD,
    one JSON object per message. Outside ``framering run`` (no FRAMERING_CONTROL_FD) poll() and
    took_effect() do nothing and the values stay as given. The constructor says hello and waits
    (5 s at most) for the supervisor's welcome, applying the changes it kept for this stage (a
    restarted stage gets them back before its first frame). ``apply(changes)``, when given, may
    refuse a checked combination by returning an error sentence (422)."""

    def __init__(self, params: dict, apply=None, stage: Optional[str] = None, environ=None,
                 welcome_timeout_s: float = 5.0) -> None:
        import socket
        env = os.environ if environ is None else environ
        self.specs = dict(params)
        self.values = {name: p.value for name, p in self.specs.items()}
        self.generation = 0
        self._apply = apply
        self._stage = stage or env.get("FRAMERING_STAGE", "stage")
        self._awaiting: List[int] = []
        self._socket = None
        fd = env.get("FRAMERING_CONTROL_FD")
        if not fd:
            return
        try:
            self._socket = socket.socket(fileno=int(fd))
        except (ValueError, OSError):
            return
        self._socket.setblocking(False)
        self._send({"type": "hello", "stage": self._stage, "params": [self._spec_json(n) for n in self.specs]})
        deadline = time.monotonic() + welcome_timeout_s
        import select
        while self._socket is not None and time.monotonic() < deadline:
            readable, _, _ = select.select([self._socket], [], [], max(0.0, deadline - time.monotonic()))
            if not readable:
                continue
            message = self._receive()
            if message is None:
                continue
            if message.get("type") == "welcome":
                return
            self._handle(message)

    def __getitem__(self, name: str):
        return self.values[name]

    @property
    def active(self) -> bool:
        """Whether a supervisor is at the other end."""
        return self._socket is not None

    def poll(self) -> bool:
        """Applies every change waiting on the channel (never blocks). True when one was
        applied: the next frame is the first with it."""
        applied = False
        while self._socket is not None:
            message = self._receive()
            if message is None:
                break
            applied |= self._handle(message)
        return applied

    def took_effect(self, sequence: int, ring: str) -> None:
        """After the first frame made with the changes poll() applied: acknowledges them."""
        for request in self._awaiting:
            self._send({"type": "took_effect", "id": request, "generation": self.generation,
                        "sequence": int(sequence), "ring": ring})
        self._awaiting.clear()

    # ---- the protocol ----------------------------------------------------------------------

    def _spec_json(self, name: str) -> dict:
        p = self.specs[name]
        out = {"name": name, "type": p.type_name(), "value": self.values[name], "units": p.units,
               "live": p.live, "applies": "live" if p.live else "restart", "doc": p.doc}
        if p.choices is not None:
            out["choices"] = list(p.choices)
        elif p.min is not None and p.max is not None:
            out["min"], out["max"] = p.min, p.max
        return out

    def _check(self, name: str, value) -> Optional[Tuple[int, str]]:
        p = self.specs[name]
        if not p.live:
            return 409, (f"{self._stage}: parameter '{name}' cannot change while the stage runs (set it in "
                         "the pipeline file and restart the run)")
        kind = p.type_name()
        units = f" {p.units}" if p.units else ""
        if kind == "choice":
            if not isinstance(value, str) or value not in p.choices:
                return 422, (f"{self._stage}: parameter '{name}' must be one of {', '.join(p.choices)}, "
                             f"not {json.dumps(value)}")
            return None
        if kind == "boolean":
            return None if isinstance(value, bool) else (422, f"{self._stage}: parameter '{name}' must be true or "
                                                             f"false, not {json.dumps(value)}")
        wrong = isinstance(value, bool) or not isinstance(value, (int, float)) or (kind == "integer" and
                                                                                   not isinstance(value, int))
        if not wrong and p.min is not None and p.max is not None and not (p.min <= value <= p.max):
            wrong = True
        if wrong:
            what = "an integer" if kind == "integer" else "a number"
            bounds = f" in [{p.min:g}, {p.max:g}]{units}" if p.min is not None and p.max is not None else ""
            return 422, f"{self._stage}: parameter '{name}' must be {what}{bounds}, not {json.dumps(value)}"
        return None

    def _handle(self, message: dict) -> bool:
        if message.get("type") != "set":
            return False
        request = int(message.get("id", 0))
        changes = message.get("values")

        def refuse(status: int, field_name: str, error: str) -> bool:
            self._send({"type": "refused", "id": request, "status": status, "field": field_name, "error": error})
            return False

        if not isinstance(changes, dict) or not changes:
            return refuse(422, "", f"{self._stage}: no parameters to change (send a JSON object of name: value)")
        for name, value in changes.items():
            if name not in self.specs:
                return refuse(422, name, f"{self._stage}: no parameter '{name}' (it has: {', '.join(self.specs)})")
            problem = self._check(name, value)
            if problem:
                return refuse(problem[0], name, problem[1])
        if self._apply is not None:
            error = self._apply(changes)
            if error:
                return refuse(422, next(iter(changes)), str(error))
        self.values.update(changes)
        self.generation = max(self.generation, int(message.get("generation", 0)))
        self._send({"type": "applied", "id": request, "generation": self.generation, "values": dict(self.values)})
        self._awaiting.append(request)
        return True

    def _receive(self) -> Optional[dict]:
        try:
            data = self._socket.recv(65536)
        except (BlockingIOError, InterruptedError):
            return None
        except OSError:
            data = b""
        if not data:  # the supervisor is gone
            self._socket.close()
            self._socket = None
            return None
        try:
            message = json.loads(data)
        except ValueError:
            return None
        return message if isinstance(message, dict) else None

    def _send(self, message: dict) -> None:
        if self._socket is None:
            return
        try:
            self._socket.send(json.dumps(message).encode())
        except OSError:
            pass  # a supervisor that does not read loses this answer, never a frame here
