"""Who may do what. One table, read by every route, page and stream."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ..errors import Forbidden, Unauthorized
from ..vocabulary import ROLES, Role

STAFF: frozenset[Role] = frozenset(ROLES)
FRONT_OF_HOUSE: frozenset[Role] = frozenset({"cashier", "manager"})
MANAGER: frozenset[Role] = frozenset({"manager"})

# permission -> the roles (forkflow/vocabulary.py) that have it. The public (not signed in) has
# only what routes leave open.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "orders.read": STAFF,  # list/read orders, /kitchen/*, order events
    "orders.move": STAFF,  # move an order's status
    "orders.cancel": FRONT_OF_HOUSE,  # the kitchen moves orders along but does not cancel them
    "orders.place": FRONT_OF_HOUSE,  # any channel, and lines added to a sent order; the public: online orders only
    # A line taken off a sent order: on a started one it is waste. Managers' approval once money exists (issue 17).
    "orders.void": FRONT_OF_HOUSE,
    "menu.write": MANAGER,
    "kitchen.settings": MANAGER,  # how the kitchen paces courses (auto-fire)
    "online": MANAGER,  # online ordering's pause, busy delay and slot capacity
    "inventory": MANAGER,  # read and change stock, inventory events
    "staff": MANAGER,  # accounts and tokens
    "printers": MANAGER,  # add, change and remove printers
    "print": STAFF,  # print a receipt, reprint a job, read an order's print jobs
    "ops": MANAGER,  # /metrics and /health's details: they say how busy the restaurant is
    # The money side (issue 17). A cashier takes payments and gives discounts up to the manager's
    # limit; above it, and for every refund, a manager approves on the spot (services/approvals.py).
    "payments": FRONT_OF_HOUSE,  # take payments, read an order's bill, open and close a drawer, pay in/out
    "discounts": FRONT_OF_HOUSE,  # within the cashier's limit; above it with approval
    "money.approve": MANAGER,  # approve a discount above the limit, a refund
    "money.settings": MANAGER,  # tax rates, pricing and service charge settings, discount reasons
    "reports": MANAGER,  # X/Z reports, closing the day, the audit log
}


@dataclass(frozen=True)
class Principal:
    """A signed-in staff member."""

    staff_id: int
    name: str
    role: Role
    via: str  # "session" or "token"
    # The session's or token's id (streams end when it is revoked), and when it stops working.
    credential_id: int | None = None
    expires_at: datetime | None = None

    def can(self, permission: str) -> bool:
        return self.role in PERMISSIONS[permission]


def principal_of(request: object) -> Principal | None:
    scope = getattr(request, "scope", {})
    return scope.get("forkflow.principal")


def can(principal: Principal | None, permission: str) -> bool:
    return principal is not None and principal.can(permission)


def require(request: object, permission: str) -> Principal:
    """The signed-in principal, if it has `permission`: else 401 (nobody) or 403 (wrong role)."""
    principal = principal_of(request)
    if principal is None:
        raise Unauthorized("sign in first")
    if not principal.can(permission):
        raise Forbidden(f"a {principal.role} may not do this")
    return principal
