"""Mail tokens across a SECRET_KEY rotation: signed with the newest key, read with any
listed key, refused once their key is removed."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.core.errors import InvalidTokenError
from services.core.tokens import Purpose, Tokens
from tests.fixtures import CLOCK

OLD, NEW = "old-key-" + "o" * 32, "new-key-" + "n" * 32
SID = str(uuid.UUID(int=7))


@pytest.mark.calendar
@pytest.mark.parametrize("purpose", list(Purpose))
def test_rotation_keeps_old_links_until_their_key_is_removed(purpose: Purpose) -> None:
    before = Tokens(OLD, clock=CLOCK)
    during = Tokens(f"{NEW},{OLD}", clock=CLOCK)
    after = Tokens(NEW, clock=CLOCK)
    mailed_before = before.issue(purpose, SID)
    assert during.read(purpose, mailed_before) == SID  # old link, rotated site
    mailed_during = during.issue(purpose, SID)
    assert after.read(purpose, mailed_during) == SID  # signed with the newest key
    with pytest.raises(InvalidTokenError):
        before.read(purpose, mailed_during)  # ...and not with the old one
    with pytest.raises(InvalidTokenError):
        after.read(purpose, mailed_before)  # the old key is gone: so is its link


key = st.text(
    st.characters(min_codepoint=33, max_codepoint=126, blacklist_characters=","), min_size=1
)


@pytest.mark.calendar
@given(st.lists(key, min_size=1, max_size=4, unique=True), key)
def test_a_token_reads_back_exactly_under_lists_holding_its_signing_key(
    listed: list[str], other: str
) -> None:
    token = Tokens(",".join(listed), clock=CLOCK).issue(Purpose.UNSUBSCRIBE, SID)
    assert Tokens(f"{other},{listed[0]}", clock=CLOCK).read(Purpose.UNSUBSCRIBE, token) == SID
    if other not in listed:
        with pytest.raises(InvalidTokenError):
            Tokens(",".join([other, *listed[1:]]), clock=CLOCK).read(Purpose.UNSUBSCRIBE, token)
