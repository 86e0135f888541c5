"""Lambda ``file.py:handler`` paths are read only inside the grader base dir.

Before: the path was joined to the server's working directory (or taken as absolute) and read
as given, and the error quoted the resolved path and the OS error. A tenant could execute any
server-side ``.py`` function of two arguments (the package's own files included), probe which
paths exist, and learn the working directory; a NUL byte raised a 500.
"""

from __future__ import annotations

from pathlib import Path

import pytest

import openrft
from openrft.errors import InvalidRequestError
from openrft.graders import ValidationContext, validate_grader

HANDLER = "def lambda_handler(event, context):\n    return []\n"


def _spec(function: str) -> dict:
    return {"type": "lambda", "lambda": {"function": function}}


def _refusal(function: str, base_dir: Path | None) -> str:
    with pytest.raises(InvalidRequestError) as info:
        validate_grader(_spec(function), ctx=ValidationContext(base_dir=base_dir))
    assert info.value.param == "grader.lambda.function"
    return info.value.message


@pytest.fixture
def layout(tmp_path: Path) -> Path:
    base = tmp_path / "graders"
    (base / "sub").mkdir(parents=True)
    (base / "sub" / "ok.py").write_text(HANDLER)
    (tmp_path / "outside.py").write_text(HANDLER)
    (base / "link.py").symlink_to(tmp_path / "outside.py")
    (base / "big.py").write_text(HANDLER + "#" * 300_000)
    (base / "binary.py").write_bytes(b"\xff\xfe" * 10)
    (base / "dir.py").mkdir()
    return base


def test_a_file_inside_the_base_dir_is_read(layout: Path) -> None:
    spec = validate_grader(
        _spec("sub/ok.py:lambda_handler"), ctx=ValidationContext(base_dir=layout)
    )
    assert spec["lambda"]["_source"] == HANDLER
    absolute = validate_grader(
        _spec(f"{layout}/sub/ok.py:lambda_handler"), ctx=ValidationContext(base_dir=layout)
    )
    assert absolute["lambda"]["_filename"] == "ok.py"


def test_every_refusal_gives_the_same_message_and_names_no_path(layout: Path) -> None:
    package_file = Path(openrft.__file__).parent / "demo" / "gsm8k_reward.py"
    attacks = [
        "../outside.py:lambda_handler",  # parent traversal
        f"{layout.parent}/outside.py:lambda_handler",  # absolute path outside
        "link.py:lambda_handler",  # symlink pointing outside
        f"{package_file}:lambda_handler",  # the server's own code
        "missing.py:lambda_handler",  # existence probe
        "dir.py:lambda_handler",  # a directory
        "big.py:lambda_handler",  # over the size cap
        "binary.py:lambda_handler",  # not UTF-8
        "sub/ok\x00.py:lambda_handler",  # NUL byte (was a 500)
    ]
    messages = {_refusal(function, layout) for function in attacks}
    assert len(messages) == 1
    (message,) = messages
    assert str(layout) not in message and str(Path.cwd()) not in message
    assert "Errno" not in message and "No such file" not in message


def test_no_base_dir_refuses_every_file_handler(layout: Path) -> None:
    assert "no handler file is available" in _refusal("sub/ok.py:lambda_handler", None)
