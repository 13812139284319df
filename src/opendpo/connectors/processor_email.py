"""A processor reached by email: OpenDPO writes to them, and a person records their answer.

Many processors (a payroll bureau, a courier) take requests only by email. The step sends
one templated message per request and system, then waits: a staff member records what the
processor answered (done, the data they sent, or a refusal with its reason) before the
request can complete. The message is sent once, however often the step is retried.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from opendpo.errors import InvalidValue
from opendpo.subjects.identities import IdentityKind, normalise


class ProcessorEmailConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["email"]
    to: str = Field(description="The processor's address for data protection requests.")
    cc: list[str] = Field(default=[], description="Also copied (e.g. the account manager).")
    processor_name: str = Field(min_length=1, max_length=200)
    answer_within_days: int = Field(
        default=10, ge=1, le=60, description="Working days the processor has agreed to answer in."
    )
    instructions: str | None = Field(
        default=None, max_length=4000, description="Added to the message (account numbers…)."
    )

    @field_validator("to")
    @classmethod
    def _address(cls, value: str) -> str:
        return _email(value)

    @field_validator("cc")
    @classmethod
    def _addresses(cls, values: list[str]) -> list[str]:
        return [_email(v) for v in values]


def _email(value: str) -> str:
    try:
        return normalise(IdentityKind.EMAIL, value)
    except InvalidValue as exc:
        raise ValueError(exc.detail) from None
