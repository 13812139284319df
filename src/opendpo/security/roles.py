"""Who may do what: permissions, the staff roles that hold them, and the scopes of API keys.

A permission is also an API key scope, so one vocabulary covers people and systems. Every
route declares the one permission it needs (opendpo.web.auth.Permit); the role matrix test
walks every route against this table.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    PUBLIC = "public"  # anyone, signed in or not: the privacy centre and health checks
    SIGNED_IN = "account"  # any signed-in staff member: their own account, sign-out, 2FA
    POLICY_READ = "policy:read"  # purposes, systems, recipients, records of processing
    POLICY_WRITE = "policy:write"
    PEOPLE_READ = "people:read"  # personal data values of data subjects
    PEOPLE_WRITE = "people:write"
    AUDIT_READ = "audit:read"  # the audit log and its export
    STAFF_MANAGE = "staff:manage"  # staff accounts and roles
    API_KEYS_MANAGE = "apikeys:manage"
    SYSTEMS_WRITE = "systems:write"  # connected systems, datasets, connectors
    DECISIONS_READ = "decisions:read"
    CONSENT_WRITE = "consent:write"
    REQUESTS_READ = "requests:read"
    REQUESTS_WRITE = "requests:write"


class Role(StrEnum):
    DPO = "dpo"
    AGENT = "agent"
    AUDITOR = "auditor"
    ENGINEER = "engineer"


_EVERY_STAFF_MEMBER = {Permission.PUBLIC, Permission.SIGNED_IN, Permission.POLICY_READ}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.DPO: frozenset(Permission),
    # Agents work requests, so they see the personal data those requests are about.
    Role.AGENT: frozenset(
        _EVERY_STAFF_MEMBER
        | {
            Permission.PEOPLE_READ,
            Permission.PEOPLE_WRITE,
            Permission.REQUESTS_READ,
            Permission.REQUESTS_WRITE,
            Permission.DECISIONS_READ,
            Permission.CONSENT_WRITE,
        }
    ),
    # Auditors read records, logs and reports; never a personal data value.
    Role.AUDITOR: frozenset(_EVERY_STAFF_MEMBER | {Permission.AUDIT_READ}),
    # Engineers connect systems; they never see the people in them.
    Role.ENGINEER: frozenset(
        _EVERY_STAFF_MEMBER
        | {Permission.SYSTEMS_WRITE, Permission.API_KEYS_MANAGE, Permission.POLICY_WRITE}
    ),
}

ROLE_DESCRIPTIONS: dict[Role, str] = {
    Role.DPO: "everything",
    Role.AGENT: "works requests; sees the personal data they are about",
    Role.AUDITOR: "reads records, logs and reports; never personal data values",
    Role.ENGINEER: "systems, datasets, connectors and API keys; no personal data",
}

# What a system may be given. Managing staff, keys and the audit log stays with people.
API_KEY_SCOPES: frozenset[Permission] = frozenset(
    {
        Permission.POLICY_READ,
        Permission.POLICY_WRITE,
        Permission.PEOPLE_READ,
        Permission.PEOPLE_WRITE,
        Permission.SYSTEMS_WRITE,
        Permission.DECISIONS_READ,
        Permission.CONSENT_WRITE,
        Permission.REQUESTS_READ,
        Permission.REQUESTS_WRITE,
    }
)
