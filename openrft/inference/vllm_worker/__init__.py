"""Code that runs inside vLLM's own interpreter (its venv has vllm and torch, not openrft):
its directory goes on the managed server's ``PYTHONPATH``, and nothing here imports openrft."""
