"""Benchmarks: ``python -m bench [module ...]`` runs each module's ``main()`` (see README)."""
