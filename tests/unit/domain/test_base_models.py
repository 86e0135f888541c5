"""Base model names: a name that cannot be a path is a clear 400, never a 500."""

from __future__ import annotations

import pytest

from openrft.domain.base_models import canonical_base_model
from openrft.errors import InvalidRequestError


@pytest.mark.parametrize("name", ["~0", "~no-such-user/model", "nothing/here/at/all"])
def test_unknown_names_are_model_not_found(name: str) -> None:
    with pytest.raises(InvalidRequestError) as info:
        canonical_base_model(name)
    assert info.value.code == "model_not_found" and info.value.param == "model"
