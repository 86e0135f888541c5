import os
import signal
import subprocess
import sys
import textwrap

import psutil
import pytest

from bench.child import REPO_ROOT

# A stand-in for the bench: starts a long-running child tied to it, prints the child's pid and
# waits to be killed.
_PARENT = textwrap.dedent(
    """
    import subprocess, sys, time
    from bench.child import die_with_bench
    tied = "--tied" in sys.argv
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(120)"],
        preexec_fn=die_with_bench() if tied else None,
    )
    print(child.pid, flush=True)
    time.sleep(120)
    """
)


def _orphan_after_parent_is_killed(tied: bool) -> psutil.Process | None:
    """Start the stand-in, SIGKILL it, and return its child if the child outlives it."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    args = [sys.executable, "-c", _PARENT] + (["--tied"] if tied else [])
    parent = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = psutil.Process(int(parent.stdout.readline()))
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=30)
    try:
        child.wait(timeout=10 if tied else 2)
        return None
    except psutil.TimeoutExpired:
        return child


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_a_killed_bench_takes_its_children_with_it() -> None:
    assert _orphan_after_parent_is_killed(tied=True) is None
    orphan = _orphan_after_parent_is_killed(tied=False)  # the check itself can fail
    assert orphan is not None
    orphan.kill()
