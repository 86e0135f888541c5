import os
import subprocess
import sys

import pytest

from openrft import allocator

# A small MLP's forward and backward, eight times: the page faults of each round. Its activations
# (4-32 MiB) are freed and allocated again every round; reused memory faults no page in.
TRAIN_ROUNDS = """
import resource, torch, openrft
torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Linear(512, 4096), torch.nn.GELU(), torch.nn.Linear(4096, 512))
x = torch.randn(2048, 512)
for _ in range(8):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    net(x).square().sum().backward()
    print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _faults(env: dict[str, str]) -> list[int]:
    run = subprocess.run(
        [sys.executable, "-c", TRAIN_ROUNDS], env=env, capture_output=True, text=True, check=True
    )
    return [int(line) for line in run.stdout.split()]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc malloc settings")
def test_freed_tensor_memory_is_reused_unless_the_user_tuned_malloc() -> None:
    env = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES" and "MALLOC" not in k}
    tuned = _faults(env)
    # A user's own malloc setting (here one that changes nothing) leaves glibc's defaults.
    untuned = _faults({**env, "GLIBC_TUNABLES": "glibc.malloc.check=0"})
    # Measured: the last rounds fault 0-2,048 pages tuned, ~33,000 (128 MiB of fresh pages) not.
    assert min(untuned[-3:]) > 10_000
    assert sum(tuned[-3:]) < sum(untuned[-3:]) / 5


def test_user_settings_are_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("GLIBC_TUNABLES", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    assert not allocator.user_tuned()
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=1024")
    assert not allocator.user_tuned()  # a tunable, but not malloc's
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.trim_threshold=1")
    assert allocator.user_tuned() and not allocator.tune_malloc()
    monkeypatch.delenv("GLIBC_TUNABLES")
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "1")
    assert allocator.user_tuned()
