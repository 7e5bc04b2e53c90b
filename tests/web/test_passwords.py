"""argon2id hashing, the new-password rules, and the secrets helpers."""

from __future__ import annotations

import pytest

from web.auth.passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    HashCost,
    PasswordHasher,
    WeakPassword,
    check_new_password,
)
from web.auth.tokens import BEARER_PREFIX, digest, new_bearer_token, new_secret, same_secret


def test_hash_is_salted_argon2id_and_verifies(hasher: PasswordHasher) -> None:
    first = hasher.hash("correct horse battery")
    second = hasher.hash("correct horse battery")
    assert first.startswith("$argon2id$")
    assert first != second  # a fresh salt each time
    assert "correct horse" not in first
    assert hasher.verify(first, "correct horse battery")
    assert hasher.verify(second, "correct horse battery")
    assert not hasher.verify(first, "correct horse batterY")
    assert not hasher.verify(first, "")


def test_unknown_user_and_garbage_hash_say_no(hasher: PasswordHasher) -> None:
    assert hasher.verify(None, "no such user: decoy password") is False
    assert hasher.verify("not-a-hash", "anything") is False


def test_needs_rehash_when_parameters_change(hasher: PasswordHasher) -> None:
    stronger = PasswordHasher(HashCost(time_cost=2, memory_cost=2048, parallelism=1))
    encoded = hasher.hash("correct horse battery")
    assert not hasher.needs_rehash(encoded)
    assert stronger.needs_rehash(encoded)
    assert stronger.verify(encoded, "correct horse battery")
    assert stronger.needs_rehash("garbage")


@pytest.mark.parametrize(
    "password",
    [None, 12345678901, "", "x" * (MIN_PASSWORD_LENGTH - 1), "x" * (MAX_PASSWORD_LENGTH + 1)],
)
def test_new_password_rules_refuse(password: object) -> None:
    with pytest.raises(WeakPassword):
        check_new_password(password)


def test_new_password_rules_accept_the_bounds() -> None:
    assert check_new_password("x" * MIN_PASSWORD_LENGTH) == "x" * MIN_PASSWORD_LENGTH
    assert check_new_password("x" * MAX_PASSWORD_LENGTH) == "x" * MAX_PASSWORD_LENGTH


def test_secrets_are_random_and_digests_stable() -> None:
    assert len({new_secret() for _ in range(100)}) == 100
    token = new_bearer_token()
    assert token.startswith(BEARER_PREFIX) and len(token) >= 40
    assert digest(token) == digest(token) and len(digest(token)) == 64
    assert token not in digest(token)
    assert same_secret("abc", "abc") and not same_secret("abc", "abd")
