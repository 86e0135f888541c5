"""Benchmarks: ``python -m bench [module ...]`` runs each module's ``main()`` (see README)."""

import os

# Before any benchmark imports torch: OpenMP reads this once, when it loads (see openrft/__init__).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
