from __future__ import annotations

from openrft.graders.sandbox.launch import bwrap_prefix, detect_isolation, library_paths


def _bound_sources(prefix: tuple[str, ...]) -> list[str]:
    return [prefix[i + 1] for i, arg in enumerate(prefix) if arg in ("--ro-bind", "--ro-bind-try")]


def test_bwrap_binds_only_system_and_python_read_only() -> None:
    prefix = bwrap_prefix(1024)
    sources = _bound_sources(prefix)
    assert "/etc" not in sources and "/home" not in sources and "/work" not in sources
    assert "--bind" not in prefix  # nothing writable from the host
    assert all(path in sources for path in library_paths())
    for flag in ("--unshare-net", "--unshare-pid", "--die-with-parent", "--clearenv"):
        assert flag in prefix
    assert prefix[-1] == "--"


def test_forced_none_mode_reports_what_it_enforces() -> None:
    isolation = detect_isolation("none")
    assert isolation.prefix == ()
    assert not isolation.own_pid_namespace
    assert "no network" not in isolation.enforced
