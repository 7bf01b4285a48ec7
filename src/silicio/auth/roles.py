"""Who someone is to silicio: a role, and for a supplier the organisation it acts for.

Roles:

* ``admin``: everything, and the accounts of others;
* ``engineer``: the yield, test, trace and SPC pages;
* ``quality``: the engineer's pages and the commercial ones (origin, certificates, supplier registry);
* ``auditor``: reads what quality reads, and the audit pages; changes nothing;
* ``supplier``: its own organisation's portal, and the public pages;
* ``public``: anyone not signed in (the public pages only).
"""

from __future__ import annotations

from dataclasses import dataclass

ROLES: tuple[str, ...] = ("admin", "engineer", "quality", "auditor", "supplier", "public")
#: The maker's own people.
STAFF_ROLES: tuple[str, ...] = ("admin", "engineer", "quality", "auditor")
#: Roles an account or an API token may hold (``public`` is having none).
ACCOUNT_ROLES: tuple[str, ...] = ("admin", "engineer", "quality", "auditor", "supplier")


class AuthError(ValueError):
    """A request about accounts or tokens that cannot be done; the message says why."""


def account_role(role: str, organisation: str | None) -> tuple[str, str | None]:
    """``(role, organisation)`` checked: a known account role; a supplier names its organisation,
    staff name none."""
    if role not in ACCOUNT_ROLES:
        raise AuthError(f"role {role!r}: expected one of {', '.join(ACCOUNT_ROLES)}")
    organisation = (organisation or "").strip() or None
    if role == "supplier" and organisation is None:
        raise AuthError("a supplier account acts for one organisation: give its org id (--org)")
    if role != "supplier" and organisation is not None:
        raise AuthError(f"role {role} acts for the maker, not for an organisation: leave --org out")
    return role, organisation


@dataclass(frozen=True)
class Principal:
    """Who a request acts as. ``via`` says how it was recognised: ``session`` (signed in),
    ``token`` (an API token), ``supplier-token`` (an organisation's portal token) or ``anonymous``.
    ``language``: the dashboard language its account prefers (None: none, or no account)."""

    role: str
    username: str | None = None
    organisation: str | None = None
    via: str = "anonymous"
    token_id: str | None = None
    language: str | None = None

    @property
    def staff(self) -> bool:
        return self.role in STAFF_ROLES

    @property
    def actor(self) -> str:
        """The name the audit trail gives to what this principal does."""
        if self.username:
            return self.username
        if self.token_id:
            return f"token:{self.token_id}"
        if self.organisation:
            return f"supplier:{self.organisation}"
        return "anonymous"


ANONYMOUS = Principal("public")
