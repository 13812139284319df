"""The policy document's schema, one module per part of the notice."""

from opendpo.policy.model.document import PolicyDocument

__all__ = ["PolicyDocument"]
