"""What importing ``openrft`` sets for the native libraries torch loads, unless the user did."""

from __future__ import annotations

import os
import subprocess
import sys

import openrft

NAME = "ONEDNN_PRIMITIVE_CACHE_CAPACITY"


def _value_after_import(env: dict[str, str]) -> str:
    code = f"import os, openrft; print(os.environ.get({NAME!r}, ''))"
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    return out.stdout.strip()


def test_onednn_primitive_cache_is_bounded_by_default() -> None:
    env = {k: v for k, v in os.environ.items() if k != NAME}
    assert _value_after_import(env) == openrft.PRIMITIVE_CACHE_CAPACITY == "64"


def test_a_users_own_capacity_is_kept() -> None:
    assert _value_after_import({**os.environ, NAME: "512"}) == "512"
