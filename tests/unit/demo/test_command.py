"""`openrft demo` fails fast, with a message saying how to provide GSM8K, when it is missing."""

from pathlib import Path

from typer.testing import CliRunner

from openrft.cli import app


def test_demo_without_gsm8k_files_exits_with_a_clear_message(tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["demo", "--gsm8k-dir", str(tmp_path / "missing"), "--out-dir", str(out_dir)]
    )
    assert result.exit_code == 1
    assert "train.jsonl" in result.output and "demo failed" in result.output
    assert not (out_dir / "server.log").exists()  # no server was started
