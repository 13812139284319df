"""What an erasure does to each field a system holds, what it must keep, and restriction flags.

Fields are named `<dataset>.<collection>.<field path>`, dotted for nested fields
(`billing_db.customers.billing_address.city`), and collections `<dataset>.<collection>`, as
the `dataset:` section declares them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, JsonValue, StringConstraints, model_validator

from opendpo.policy.model.base import Key, StrictModel, Text

Strategy = Literal["null", "fixed", "random_string", "hash", "keyed_hash", "delete_row"]

FieldRef = Annotated[str, StringConstraints(pattern=r"^[^.\s]+(\.[^.\s]+){2,}$")]
"""`dataset.collection.field`, the field part dotted for nested fields."""

CollectionRef = Annotated[str, StringConstraints(pattern=r"^[^.\s]+(\.[^.\s]+)+$")]
"""`dataset.collection`."""

FieldName = Annotated[str, StringConstraints(pattern=r"^[^.\s]+(\.[^.\s]+)*$")]
"""A field of one collection, dotted for nested fields (`billing_address.city`)."""

FlagValue = bool | int | str


class Masking(StrictModel):
    """A strategy and its settings; written as the bare name where it needs none (`hash`)."""

    strategy: Strategy = Field(
        description="null (clear it), fixed (a set value), random_string (a random-looking "
        "string, the same every time the request runs), hash (SHA-256), keyed_hash "
        "(HMAC-SHA-256 under OpenDPO's key), delete_row (remove the whole row)."
    )
    value: JsonValue = Field(default=None, description="For fixed: the value written.")
    length: int | None = Field(
        default=None,
        ge=1,
        le=1024,
        description="For random_string: the length; default, the length of the value replaced.",
    )

    @model_validator(mode="before")
    @classmethod
    def _bare_name(cls, data: Any) -> Any:
        # `null` in YAML is None: `default_strategy: null` must mean the null strategy.
        if data is None:
            return {"strategy": "null"}
        if isinstance(data, str):
            return {"strategy": data}
        return data


class Exemption(StrictModel):
    """Rows of a collection kept for a legal reason: only the `keep` fields stay as they are."""

    collection: CollectionRef
    retention: Key = Field(description="The retention rule the rows are kept under.")
    keep: list[FieldName] = Field(
        default=[],
        description="Fields kept as they are (a nested parent keeps what is under it); "
        "everything else personal in the row is masked, never deleted with the row.",
    )
    reason: Text = Field(description="Why the law lets these fields stay (Art 17(3)).")


class Erasure(StrictModel):
    covers: list[Key] = Field(
        default=["user"],
        min_length=1,
        description="Data categories an erasure covers, with everything under them.",
    )
    default_strategy: Masking = Field(
        default=Masking(strategy="null"),
        description="For a covered field that no category or field strategy names.",
    )
    categories: dict[Key, Masking] = Field(
        default={},
        description="Strategy per data category; the most specific category wins "
        "(user.contact.email over user.contact over user).",
    )
    fields: dict[FieldRef, Masking] = Field(
        default={},
        description="Strategy per field, over any category's; applies even to a field the "
        "covered categories leave out.",
    )
    exemptions: list[Exemption] = []

    def exemption(self, collection: str) -> Exemption | None:
        return next((e for e in self.exemptions if e.collection == collection), None)


FlagMarks = Literal["restriction", "objection"]


class RestrictionFlag(StrictModel):
    """A field a system holds that marks a person's data as restricted (Art 18), or the
    person as objecting to direct marketing (Art 21: a do-not-contact flag)."""

    field: FieldRef
    marks: FlagMarks = Field(
        default="restriction",
        description="What the flag records: a restriction (set by restriction requests, "
        "cleared when lifted) or an objection (set when an objection is carried out).",
    )
    restricted: FlagValue = Field(default=True, description="Set while it applies.")
    lifted: FlagValue | None = Field(default=False, description="Set when lifted.")


class Restriction(StrictModel):
    flags: list[RestrictionFlag] = []

    def flags_in(self, collection: str, marks: FlagMarks = "restriction") -> list[RestrictionFlag]:
        """The flags for `marks` held by `dataset.collection`."""
        return [f for f in self.flags if f.marks == marks and f.field.startswith(collection + ".")]
