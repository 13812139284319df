"""A system no connector reaches (paper files, a desktop spreadsheet): a person does the work.

The step becomes a task on the request: staff read the instructions, gather the data or
confirm the deletion, attach what they found, and mark it done. A system the policy names
but that has no connection at all is treated the same way, so no system is ever skipped.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ManualConnection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["manual"]
    instructions: str = Field(
        min_length=1,
        max_length=4000,
        description="What to do, where the data is, who can open it.",
    )
