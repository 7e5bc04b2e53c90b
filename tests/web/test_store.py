"""The user store on SQLite and PostgreSQL: users, roles, passwords, tokens, the last admin."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from cases.db import make_engine, normalize_url
from web.auth.errors import Conflict, InvalidInput, NotFound
from web.auth.passwords import HashCost, PasswordHasher
from web.auth.roles import Role
from web.auth.store import UserStore
from web.auth.tables import metadata


class Ticks:
    """A UTC clock one second further at each reading."""

    def __init__(self) -> None:
        self.current = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.current += timedelta(seconds=1)
        return self.current


@pytest.fixture
async def store(db_url: str, hasher: PasswordHasher) -> AsyncIterator[UserStore]:
    opened = await UserStore.open(db_url, hasher=hasher, now=Ticks())
    try:
        yield opened
    finally:
        await opened.close()


async def test_tables_match_migration_0004(db_url: str, store: UserStore) -> None:
    engine = make_engine(db_url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={
                "compare_type": True,
                # The other tables of the shared schema are not this MetaData's business.
                "include_name": lambda name, kind, _parent: (
                    kind != "table" or name in metadata.tables
                ),
            })
            assert compare_metadata(context, metadata) == []
            names = set(inspect(conn).get_table_names())
        assert {"users", "api_tokens"} <= names
    finally:
        engine.dispose()


async def test_add_get_list_and_authenticate(store: UserStore) -> None:
    assert await store.count_users() == 0
    ana = await store.add_user("ana", "correct horse battery", Role.AGENT)
    await store.add_user("bob", "another long password", Role.SUPERVISOR)
    assert await store.count_users() == 2
    assert await store.get_user("ana") == ana
    assert await store.get_user("nobody") is None
    assert [u.name for u in await store.list_users()] == ["ana", "bob"]
    assert ana.to_json()["role"] == "agent" and "password_hash" not in ana.to_json()
    assert await store.authenticate("ana", "correct horse battery") == ana
    assert await store.authenticate("ana", "another long password") is None
    assert await store.authenticate("nobody", "correct horse battery") is None


async def test_password_is_stored_hashed(store: UserStore, db_url: str) -> None:
    await store.add_user("ana", "correct horse battery", Role.AGENT)
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT password_hash FROM users")).scalar_one()
    finally:
        engine.dispose()
    assert stored.startswith("$argon2id$") and "horse" not in stored


@pytest.mark.parametrize(
    ("name", "password", "where"),
    [("Ana", "correct horse battery", "name"), ("", "correct horse battery", "name"),
     ("a b", "correct horse battery", "name"), ("x" * 65, "correct horse battery", "name"),
     ("ana", "short", "password")],
)
async def test_bad_names_and_passwords_refused(
    store: UserStore, name: str, password: str, where: str
) -> None:
    with pytest.raises(InvalidInput) as err:
        await store.add_user(name, password, Role.AGENT)
    assert err.value.where == where
    assert await store.count_users() == 0


async def test_duplicate_user_conflicts(store: UserStore) -> None:
    await store.add_user("ana", "correct horse battery", Role.AGENT)
    with pytest.raises(Conflict) as err:
        await store.add_user("ana", "another long password", Role.ADMIN)
    assert err.value.code == "user_exists"
    assert (await store.get_user("ana")).role is Role.AGENT  # type: ignore[union-attr]


async def test_update_role_password_and_disable(store: UserStore) -> None:
    await store.add_user("root", "correct horse battery", Role.ADMIN)
    before = await store.add_user("ana", "correct horse battery", Role.AGENT)
    after = await store.update_user("ana", role=Role.SUPERVISOR)
    assert after.role is Role.SUPERVISOR and after.updated_at > before.updated_at
    await store.update_user("ana", password="a brand new password")
    assert await store.authenticate("ana", "correct horse battery") is None
    assert await store.authenticate("ana", "a brand new password") is not None
    await store.update_user("ana", disabled=True)
    assert await store.authenticate("ana", "a brand new password") is None
    await store.update_user("ana", disabled=False)
    assert await store.authenticate("ana", "a brand new password") is not None
    with pytest.raises(NotFound):
        await store.update_user("nobody", role=Role.AGENT)
    with pytest.raises(InvalidInput):
        await store.update_user("ana", password="short")


async def test_last_enabled_admin_cannot_be_demoted_or_disabled(store: UserStore) -> None:
    await store.add_user("root", "correct horse battery", Role.ADMIN)
    for change in ({"role": Role.SUPERVISOR}, {"disabled": True}):
        with pytest.raises(Conflict) as err:
            await store.update_user("root", **change)  # type: ignore[arg-type]
        assert err.value.code == "last_admin"
    await store.add_user("second", "correct horse battery", Role.ADMIN)
    await store.update_user("second", disabled=True)
    with pytest.raises(Conflict):
        await store.update_user("root", role=Role.AGENT)  # "second" is disabled
    await store.update_user("second", disabled=False)
    assert (await store.update_user("root", role=Role.AGENT)).role is Role.AGENT
    # Its password can still change: it stays an enabled admin.
    await store.update_user("second", password="another long password")


async def test_old_hashes_are_upgraded_at_login(db_url: str, store: UserStore) -> None:
    await store.add_user("ana", "correct horse battery", Role.AGENT)
    stronger = PasswordHasher(HashCost(time_cost=2, memory_cost=2048, parallelism=1))
    upgraded = await UserStore.open(db_url, hasher=stronger)
    try:
        assert await upgraded.authenticate("ana", "correct horse battery") is not None
        _, encoded = await upgraded._db.run(upgraded._credentials, "ana")  # type: ignore[misc]
        assert "t=2" in encoded and not stronger.needs_rehash(encoded)
    finally:
        await upgraded.close()


async def test_tokens_stored_as_digests_found_and_revoked(store: UserStore, db_url: str) -> None:
    view, token = await store.add_token("crm", Role.SUPERVISOR, created_by="root")
    assert view.name == "crm" and view.role is Role.SUPERVISOR
    assert await store.find_token(token) == view
    assert await store.find_token(token + "x") is None
    engine = create_engine(normalize_url(db_url))
    try:
        with engine.connect() as conn:
            stored = conn.execute(text("SELECT digest FROM api_tokens")).scalar_one()
    finally:
        engine.dispose()
    assert token not in stored and len(stored) == 64
    with pytest.raises(Conflict):
        await store.add_token("crm", Role.ADMIN, created_by=None)
    assert [t.name for t in await store.list_tokens()] == ["crm"]
    await store.delete_token("crm")
    assert await store.find_token(token) is None
    with pytest.raises(NotFound):
        await store.delete_token("crm")
