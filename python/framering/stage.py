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
    so a loop can finish its frame (an every consumer drains what it owes) and exit 0.
    True once a signal came: ``while not stop: ...``. Install it from the main thread."""

    def __init__(self) -> None:
        self.signal: Optional[int] = None
        signal.signal(signal.SIGTERM, self._set)
        signal.signal(signal.SIGINT, self._set)

    def _set(self, signum, _frame) -> None:
        self.signal = signum

    def __bool__(self) -> bool:
        return self.signal is not None
