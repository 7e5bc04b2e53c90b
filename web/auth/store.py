"""Users and bearer tokens in the case database (async API over a small thread pool).

`UserStore.open(url)` migrates the shared schema to head (as `CaseStore.open` does), so it
can be opened alone by the CLI or first by the server. Hashing a password runs in worker
threads too, at most `HASH_CONCURRENCY` at a time: argon2 takes 64 MiB and a core per hash,
and a flood of logins must not take the machine's memory or starve the media clock.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from cases.db import DbWorker
from web.auth.errors import Conflict, InvalidInput, NotFound, StorageError
from web.auth.passwords import PasswordHasher, WeakPassword, check_new_password
from web.auth.roles import Role
from web.auth.tables import api_tokens, user_settings, users
from web.auth.tokens import bound_agent, bound_name, digest, new_bearer_token, own_principal

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._@-]{0,63}")
HASH_CONCURRENCY = 2


def system_clock() -> datetime:
    """The wall clock in UTC (creation and change times of users and tokens)."""
    return datetime.now(UTC)


def check_name(name: object, where: str = "name") -> str:
    """`name` if it is a valid user or token name: lowercase letters, digits, `._@-`."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidInput(
            where, "1-64 characters: lowercase letters, digits and . _ @ -, not first"
        )
    return name


@dataclass(frozen=True)
class UserView:
    """A user as the API shows it (no hash)."""

    name: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.label,
            "disabled": self.disabled,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class TokenView:
    """A bearer token's record (no secret). `agent` is the agent an agent token is bound to
    (None for others); `principal` is who the token acts as (`web.auth.tokens`)."""

    name: str
    role: Role
    created_by: str | None
    created_at: datetime
    agent: str | None = None

    @property
    def principal(self) -> str:
        return self.agent if self.agent is not None else own_principal(self.name)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role.label,
            "agent": self.agent,
            "acts_as": self.principal,
            "created_by": self.created_by,
            "created_at": self.created_at.isoformat(),
        }


def _user(row: Row[Any]) -> UserView:
    return UserView(row.name, Role.parse(row.role), row.disabled, row.created_at, row.updated_at)


def _token(row: Row[Any]) -> TokenView:
    role = Role.parse(row.role)
    agent = bound_agent(row.name) if role is Role.AGENT else None
    return TokenView(row.name, role, row.created_by, row.created_at, agent)


class UserStore:
    """Users (argon2id hashes) and integration tokens (digests). Open with `await open(url)`."""

    def __init__(self, db: DbWorker, hasher: PasswordHasher, now: Clock) -> None:
        self._db = db
        self._engine = db.engine
        self._hasher = hasher
        self._now = now
        self._hashing = asyncio.Semaphore(HASH_CONCURRENCY)

    @classmethod
    async def open(
        cls, url: str, *, hasher: PasswordHasher | None = None, now: Clock = system_clock
    ) -> UserStore:
        """Connect to `url` and migrate the shared schema to head."""
        if hasher is None:
            hasher = await asyncio.to_thread(PasswordHasher)
        db = await DbWorker.open_migrated(
            url, workers=2, thread_name="users-db", name="the user store", error=StorageError
        )
        return cls(db, hasher, now)

    async def close(self) -> None:
        """Finish queued work and release connections. Idempotent."""
        await self._db.close()

    async def _hash(self, password: str) -> str:
        async with self._hashing:
            return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, encoded: str | None, password: str) -> bool:
        async with self._hashing:
            return await asyncio.to_thread(self._hasher.verify, encoded, password)

    # -- users ---------------------------------------------------------------------------

    async def count_users(self) -> int:
        """How many users exist (enabled or not)."""
        return await self._db.run(self._count_users)

    def _count_users(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(users)).scalar_one())

    async def add_user(self, name: str, password: str, role: Role) -> UserView:
        """Create a user; `InvalidInput` for a bad name or password, `Conflict` if taken."""
        check_name(name)
        try:
            check_new_password(password)
        except WeakPassword as exc:
            raise InvalidInput("password", str(exc)) from None
        encoded = await self._hash(password)
        return await self._db.run(self._add_user, name, encoded, role)

    def _add_user(self, name: str, encoded: str, role: Role) -> UserView:
        now = self._now()
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(users).values(
                    name=name, password_hash=encoded, role=role.label, disabled=False,
                    created_at=now, updated_at=now,
                ))
        except IntegrityError:
            raise Conflict("user_exists", f"user {name!r} already exists") from None
        return UserView(name, role, False, now, now)

    async def get_user(self, name: str) -> UserView | None:
        """The user called `name`, or None."""
        return await self._db.run(self._get_user, name)

    def _get_user(self, name: str) -> UserView | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return None if row is None else _user(row)

    # -- a user's own settings (the language of their pages) --------------------------------
    async def language(self, name: str) -> str | None:
        """The language `name` chose for their pages (`en`, `es`), None if none."""
        return await self._db.run(self._language, name)

    def _language(self, name: str) -> str | None:
        with self._engine.connect() as conn:
            found = conn.execute(select(user_settings.c.language)
                                 .where(user_settings.c.name == name)).scalar()
        return str(found) if found else None

    async def set_language(self, name: str, language: str | None) -> None:
        """Keep `language` (None: follow the browser) as `name`'s choice; `NotFound` for a
        user that does not exist. Never touches the user's row (their sessions stay)."""
        await self._db.run(self._set_language, name, language)

    def _set_language(self, name: str, language: str | None) -> None:
        with self._engine.begin() as conn:
            if conn.execute(select(users.c.id).where(users.c.name == name)).first() is None:
                raise NotFound(f"no user {name!r}")
            conn.execute(delete(user_settings).where(user_settings.c.name == name))
            if language is not None:
                conn.execute(insert(user_settings).values(name=name, language=language))

    async def list_users(self) -> list[UserView]:
        """Every user, by name."""
        return await self._db.run(self._list_users)

    def _list_users(self) -> list[UserView]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.name)).all()
        return [_user(row) for row in rows]

    async def update_user(
        self,
        name: str,
        *,
        role: Role | None = None,
        password: str | None = None,
        disabled: bool | None = None,
    ) -> UserView:
        """Change a user's role, password or disabled flag.

        `NotFound` for an unknown user; `Conflict("last_admin")` when the change would leave
        no enabled admin (nobody could manage users any more).
        """
        encoded = None
        if password is not None:
            try:
                check_new_password(password)
            except WeakPassword as exc:
                raise InvalidInput("password", str(exc)) from None
            encoded = await self._hash(password)
        return await self._db.run(self._update_user, name, role, encoded, disabled)

    def _update_user(
        self, name: str, role: Role | None, encoded: str | None, disabled: bool | None
    ) -> UserView:
        with self._engine.begin() as conn:
            row = conn.execute(
                select(users).where(users.c.name == name).with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"no user {name!r}")
            current = _user(row)
            changes: dict[str, Any] = {"updated_at": self._now()}
            if role is not None:
                changes["role"] = role.label
            if encoded is not None:
                changes["password_hash"] = encoded
            if disabled is not None:
                changes["disabled"] = disabled
            stays_admin = (role or current.role) is Role.ADMIN and not (
                current.disabled if disabled is None else disabled
            )
            if current.role is Role.ADMIN and not current.disabled and not stays_admin:
                self._check_other_admin(conn, name)
            conn.execute(update(users).where(users.c.name == name).values(**changes))
            row = conn.execute(select(users).where(users.c.name == name)).one()
        return _user(row)

    @staticmethod
    def _check_other_admin(conn: Connection, name: str) -> None:
        others = conn.execute(
            select(users.c.id).where(
                users.c.role == Role.ADMIN.label, users.c.disabled.is_(False),
                users.c.name != name,
            ).with_for_update()
        ).first()
        if others is None:
            raise Conflict("last_admin", f"{name!r} is the last enabled admin")

    async def authenticate(self, name: str, password: str) -> UserView | None:
        """The user if `password` is theirs and they are enabled, else None (same cost)."""
        row = await self._db.run(self._credentials, name)
        encoded = None if row is None else row[1]
        if not await self._verify(encoded, password) or row is None:
            return None
        user = row[0]
        if user.disabled:
            return None
        if encoded is not None and self._hasher.needs_rehash(encoded):
            # Parameters were raised since this hash was made: store a stronger one now
            # that the password is at hand.
            stronger = await self._hash(password)
            await self._db.run(self._set_hash, name, stronger)
        return user

    def _credentials(self, name: str) -> tuple[UserView, str] | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.name == name)).first()
        return None if row is None else (_user(row), row.password_hash)

    def _set_hash(self, name: str, encoded: str) -> None:
        with self._engine.begin() as conn:
            conn.execute(update(users).where(users.c.name == name).values(password_hash=encoded))

    # -- bearer tokens -------------------------------------------------------------------

    async def add_token(
        self, name: str, role: Role, created_by: str | None, agent: str | None = None
    ) -> tuple[TokenView, str]:
        """A new bearer token: its record and the token itself (shown once, never stored).

        An agent token acts for `agent` (default: `name`), which must be an existing enabled
        user with the agent role; its record is called "AGENT:NAME" ("AGENT" when they are
        the same). Other tokens act as themselves and take no `agent`. `InvalidInput` (where
        "agent") otherwise. The API and the CLI ask for the agent explicitly.
        """
        check_name(name)
        if role is Role.AGENT:
            agent = name if agent is None else check_name(agent, "agent")
            name = bound_name(agent, name)
        elif agent is not None:
            raise InvalidInput(
                "agent", f"only agent tokens act for a user; a {role.label} token acts as itself"
            )
        token = new_bearer_token()
        view = await self._db.run(self._add_token, name, digest(token), role, created_by, agent)
        return view, token

    def _add_token(
        self, name: str, hashed: str, role: Role, created_by: str | None, agent: str | None
    ) -> TokenView:
        now = self._now()
        try:
            with self._engine.begin() as conn:
                if agent is not None and not self._is_agent(conn, agent):
                    raise InvalidInput("agent", f"no enabled user {agent!r} with the agent role")
                conn.execute(insert(api_tokens).values(
                    name=name, digest=hashed, role=role.label, created_by=created_by,
                    created_at=now,
                ))
        except IntegrityError:
            raise Conflict("token_exists", f"token {name!r} already exists") from None
        return TokenView(name, role, created_by, now, agent)

    @staticmethod
    def _is_agent(conn: Connection, name: str) -> bool:
        row = conn.execute(
            select(users.c.role, users.c.disabled).where(users.c.name == name)
        ).first()
        return row is not None and row.role == Role.AGENT.label and not row.disabled

    async def find_token(self, token: str) -> TokenView | None:
        """The record of a presented bearer token, or None: unknown, revoked, or bound to an
        agent who is gone, disabled or no longer an agent."""
        return await self._db.run(self._find_token, digest(token))

    def _find_token(self, hashed: str) -> TokenView | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(api_tokens).where(api_tokens.c.digest == hashed)).first()
            if row is None:
                return None
            view = _token(row)
            if view.agent is not None and not self._is_agent(conn, view.agent):
                return None
        return view

    async def list_tokens(self) -> list[TokenView]:
        """Every token's record, by name."""
        return await self._db.run(self._list_tokens)

    def _list_tokens(self) -> list[TokenView]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(api_tokens).order_by(api_tokens.c.name)).all()
        return [_token(row) for row in rows]

    async def delete_token(self, name: str) -> None:
        """Revoke a token; `NotFound` if there is none of that name."""
        await self._db.run(self._delete_token, name)

    def _delete_token(self, name: str) -> None:
        with self._engine.begin() as conn:
            gone = conn.execute(delete(api_tokens).where(api_tokens.c.name == name)).rowcount
        if not gone:
            raise NotFound(f"no token {name!r}")
