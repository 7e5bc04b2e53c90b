"""Roles, ordered: every role can do what the roles below it can (admin > supervisor > agent)."""

from __future__ import annotations

from enum import IntEnum


class Role(IntEnum):
    """Who a principal is to the desk. Compared by order: `role >= Role.SUPERVISOR`."""

    AGENT = 1
    SUPERVISOR = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        """The role's name on the wire and in the database ("agent", ...)."""
        return self.name.lower()

    @classmethod
    def parse(cls, text: object) -> Role:
        """The role named `text`; `ValueError` naming the accepted values otherwise."""
        if isinstance(text, str):
            for role in cls:
                if role.label == text:
                    return role
        raise ValueError(f"role must be one of {', '.join(ROLE_LABELS)}, got {text!r}")


ROLE_LABELS: tuple[str, ...] = tuple(role.label for role in Role)
