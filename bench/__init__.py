"""Benchmarks: ``python -m bench [module ...]`` runs each module's ``main()`` (see README)."""

# Before any benchmark imports torch: openrft's OpenMP settings (openrft/__init__), read once
# when torch loads OpenMP, apply to every benchmark as they do to openrft's own processes. TRL's
# side runs with OpenMP's default instead (bench/trl_step.py).
import openrft  # noqa: F401
