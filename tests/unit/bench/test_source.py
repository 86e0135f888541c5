import subprocess
from pathlib import Path

from bench.source import source_state


def _git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def _checkout(root: Path) -> Path:
    (root / "openrft").mkdir(parents=True)
    (root / "openrft" / "model.py").write_text("SPEED = 1\n")
    (root / "README.md").write_text("notes\n")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    return root


def test_a_clean_checkout_is_its_commit(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    state = source_state(root)
    assert len(state["commit"]) == 40
    assert state["uncommitted_digest"] is None


def test_edits_to_measured_code_change_the_state_and_notes_do_not(tmp_path: Path) -> None:
    root = _checkout(tmp_path)
    clean = source_state(root)
    (root / "README.md").write_text("more notes\n")  # not measured
    assert source_state(root) == clean
    (root / "openrft" / "model.py").write_text("SPEED = 2\n")
    edited = source_state(root)
    assert edited["commit"] == clean["commit"] and edited["uncommitted_digest"] is not None
    (root / "openrft" / "model.py").write_text("SPEED = 3\n")  # a further edit of a dirty tree
    assert source_state(root) != edited
    (root / "openrft" / "model.py").write_text("SPEED = 2\n")
    assert source_state(root) == edited
    (root / "bench").mkdir()
    (root / "bench" / "new.py").write_text("x = 1\n")  # untracked, measured
    assert source_state(root) != edited


def test_outside_a_checkout_the_commit_is_unknown(tmp_path: Path) -> None:
    assert source_state(tmp_path) == {"commit": None}
