"""What a phase hands back to the engine: the step's new status, counts and rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from opendpo.execution.steps import StepStatus
from opendpo.rights.letters import Letter

# Called now and then by long work: raises LeaseLost once another worker has the step.
Heartbeat = Callable[[], None]


class LeaseLost(Exception):
    """Our lease on the step was taken over (we stalled past it): stop, record nothing."""


@dataclass
class Outcome:
    status: StepStatus
    summary: dict[str, Any]
    message: str
    outputs: dict[str, Any] | None = None
    # Batches of found rows (rowstore.Batch), written with the step's outcome.
    rows: list[dict[str, Any]] = field(default_factory=list)
    public: bool = False
    # Letters the step owes the person (a completed request's response): sent after commit.
    letters: list[Letter] = field(default_factory=list)
