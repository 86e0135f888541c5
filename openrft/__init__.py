"""openrft: self-hosted reinforcement fine-tuning with an OpenAI-compatible API."""

import os

__version__ = "0.1.0"

# OpenMP reads how long a waiting thread spins once, when torch loads it, so this must precede
# any torch import: every openrft entry point (the CLI, ``python -m openrft.worker``, Ray actors)
# imports this package first. OpenMP's default spin (300,000 rounds, milliseconds) made training
# steps 4-20x slower on a busy machine; never spinning (OMP_WAIT_POLICY=PASSIVE) made rollouts
# 1.6x slower on a quiet one. A brief spin, with the thread count fitted to the free cores
# (openrft.threads), keeps both (issue 19; measured by bench/threads.py).
SPIN_ROUNDS = "10000"
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", SPIN_ROUNDS)

# oneDNN keeps a compiled primitive per exact matmul shape, up to 1,024 by default (read when it
# first builds one). Decoding's row count changes every step and a micro-batch's token count
# with its completions, so the cache filled with shapes seldom seen again: the peak RSS of ten
# learning steps grew to 3,290-3,473 MiB, above TRL's 3,384-3,448; with 64 it was 2,781 MiB
# (2026-12-04, 2-core AMD EPYC, python -m bench.grpo_step; issue 19).
PRIMITIVE_CACHE_CAPACITY = "64"
os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", PRIMITIVE_CACHE_CAPACITY)

# Let torch reuse freed activation memory rather than fault in fresh pages (openrft.allocator).
from openrft.allocator import tune_malloc  # noqa: E402

tune_malloc()
