"""Problems found in a policy, each tied to the file, line and column that caused it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True, order=True)
class Location:
    file: str
    line: int  # 1-based, as editors count
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass(frozen=True)
class PolicyProblem:
    message: str
    location: Location | None = None
    severity: Literal["error", "warning"] = "error"

    def __str__(self) -> str:
        prefix = f"{self.location}: " if self.location else ""
        marker = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{marker}{self.message}"


class PolicyInvalid(Exception):
    """The policy cannot be applied; `problems` lists every error found, in file order."""

    def __init__(self, problems: list[PolicyProblem]) -> None:
        self.problems = sorted(problems, key=_order)
        super().__init__("\n".join(str(problem) for problem in self.problems))


def _order(problem: PolicyProblem) -> tuple[Location, str]:
    return (problem.location or Location("", 0, 0), problem.message)
