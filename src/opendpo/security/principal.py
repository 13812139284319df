"""Who is asking: a staff member, a system holding an API key, or nobody known."""

from __future__ import annotations

from dataclasses import dataclass

from opendpo.security.audit import Actor, ActorKind
from opendpo.security.errors import NotAuthenticated, PermissionDenied
from opendpo.security.roles import Permission, Role


@dataclass(frozen=True)
class Principal:
    kind: ActorKind
    id: str | None
    name: str
    permissions: frozenset[Permission]
    role: Role | None = None
    address: str | None = None

    @classmethod
    def anonymous(cls, address: str | None) -> Principal:
        return cls(
            ActorKind.ANONYMOUS, None, "anonymous", frozenset({Permission.PUBLIC}), None, address
        )

    @property
    def authenticated(self) -> bool:
        return self.kind is not ActorKind.ANONYMOUS

    @property
    def actor(self) -> Actor:
        return Actor(self.kind, self.id, self.address)

    def can(self, permission: Permission) -> bool:
        return permission is Permission.PUBLIC or permission in self.permissions

    def require(self, permission: Permission) -> None:
        if self.can(permission):
            return
        if not self.authenticated:
            raise NotAuthenticated()
        raise PermissionDenied(permission.value)
