"""openrft: self-hosted reinforcement fine-tuning with an OpenAI-compatible API."""

import os

__version__ = "0.1.0"

# OpenMP reads its wait policy once, when torch loads it, so this must precede any torch import:
# every openrft entry point (the CLI, ``python -m openrft.worker``, Ray actors) imports this
# package first. Spinning threads waiting for a sibling that another process holds off the core
# made training steps 4-20x slower on a busy machine (issue 19; measured by bench/threads.py).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
