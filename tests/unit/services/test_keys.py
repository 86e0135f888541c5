"""Key hashing and project names (no database)."""

from __future__ import annotations

import hashlib

import pytest

from openrft.errors import InvalidRequestError
from openrft.services.keys import check_project_name, hash_key


def test_only_a_sha256_of_the_key_is_stored() -> None:
    assert hash_key("sk-abc") == hashlib.sha256(b"sk-abc").hexdigest()
    assert hash_key("sk-abc") != hash_key("sk-abd")


@pytest.mark.parametrize("name", ["default", "team-a", "Team_1.x"])
def test_good_project_names(name: str) -> None:
    assert check_project_name(name) == name


@pytest.mark.parametrize("name", ["", "a:b", "-lead", "x" * 65, "sp ace"])
def test_bad_project_names(name: str) -> None:
    with pytest.raises(InvalidRequestError, match="Invalid project name"):
        check_project_name(name)
