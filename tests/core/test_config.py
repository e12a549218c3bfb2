"""SECRET_KEY: a list of keys newest first, each of at least 32 bytes outside development."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.config import (
    DEV_SECRET,
    MIN_SECRET_BYTES,
    Settings,
    keys_oldest_first,
    load_settings,
    parse_secret_keys,
    secret_key_problem,
)

LONG = "k" * MIN_SECRET_BYTES
keys = (
    st.text(st.characters(blacklist_characters=",", blacklist_categories=["Cs"]), min_size=1)
    .map(str.strip)
    .filter(bool)
)


@given(st.lists(keys, min_size=1, max_size=5), st.sampled_from([",", ", ", " ,\n"]))
def test_secret_key_lists_its_keys_newest_first(listed: list[str], separator: str) -> None:
    value = separator.join(listed)
    assert parse_secret_keys(value) == tuple(listed)
    assert keys_oldest_first(value) == list(reversed(listed))
    assert Settings(secret_key=value).signing_keys[0] == listed[0]


def test_a_secret_key_without_a_key_is_refused() -> None:
    with pytest.raises(ValueError, match="no key"):
        keys_oldest_first(" , ")
    assert Settings(secret_key=" , ").signing_keys == (DEV_SECRET,)


@pytest.mark.parametrize(
    ("secret_key", "says"),
    [
        (DEV_SECRET, "unset or the built-in development key"),
        (f"{LONG},{DEV_SECRET}", "unset or the built-in development key"),
        ("short", "SECRET_KEY is 5 bytes; every key needs at least 32"),
        ("k" * (MIN_SECRET_BYTES - 1), "SECRET_KEY is 31 bytes"),
        (f"{LONG}, too-short-old-key", "key 2 of 2 in SECRET_KEY is 17 bytes"),
        ("é" * 15, "SECRET_KEY is 30 bytes"),  # bytes, not characters
    ],
)
def test_unsafe_keys_are_refused_outside_development(secret_key: str, says: str) -> None:
    problem = secret_key_problem(Settings(secret_key=secret_key))
    assert problem is not None and says in problem
    assert "\n" not in problem
    assert secret_key_problem(Settings(secret_key=secret_key, development=True)) is None


def test_keys_of_32_bytes_and_more_are_fine() -> None:
    assert secret_key_problem(Settings(secret_key=LONG)) is None
    assert secret_key_problem(Settings(secret_key="é" * 16)) is None
    assert secret_key_problem(Settings(secret_key=f"{LONG}1, {LONG}2")) is None


def test_unset_secret_key_is_the_development_key_and_refused() -> None:
    settings = load_settings({})
    assert settings.signing_keys == (DEV_SECRET,)
    assert secret_key_problem(settings) is not None
    developing = load_settings({"VERDICTS_DEVELOPMENT": "1"})
    assert developing.development and secret_key_problem(developing) is None
