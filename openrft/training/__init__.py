"""GRPO training: the job worker, the controller loop and its roles (see docs/ARCHITECTURE.md)."""
