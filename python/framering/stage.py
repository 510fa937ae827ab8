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
