"""LoRA adapters served side by side on one in-memory copy of a base model.

Adapters are injected with peft under names derived from their directory, loaded lazily and
evicted least-recently-used once their total size passes a byte budget. Rows of one batch may
use different adapters (peft ``adapter_names``; ``"__base__"`` = no adapter). Used from one
thread only (the base model's batching worker), between forwards.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from pathlib import Path
from typing import Any

from peft import PeftModel

from openrft.inference.requests import BASE_ADAPTER

__all__ = ["BASE_ADAPTER", "AdapterSet", "adapter_bytes", "adapter_name", "is_lora_dir"]


def adapter_name(adapter_dir: Path) -> str:
    """A stable peft adapter name for a directory (peft names cannot hold dots or slashes)."""
    return "a" + hashlib.sha256(str(adapter_dir.resolve()).encode()).hexdigest()[:16]


def adapter_bytes(adapter_dir: Path) -> int:
    """Size on disk of the adapter weights (≈ their size in memory at float32)."""
    return sum(p.stat().st_size for p in adapter_dir.glob("adapter_model.*"))


def is_lora_dir(path: Path) -> bool:
    return (path / "adapter_config.json").is_file()


class AdapterSet:
    """The base model plus the adapters currently attached to it."""

    def __init__(self, base_model: Any, budget_bytes: int) -> None:
        self.base_model = base_model
        self.budget_bytes = budget_bytes
        self.peft_model: PeftModel | None = None
        self._loaded: OrderedDict[str, int] = OrderedDict()  # name → bytes, LRU first

    @property
    def model(self) -> Any:
        """What to run: the peft wrapper once any adapter was attached, else the base model."""
        return self.peft_model if self.peft_model is not None else self.base_model

    @property
    def loaded(self) -> list[str]:
        """Attached adapter names, least recently used first."""
        return list(self._loaded)

    def is_attached(self, adapter_dir: Path) -> bool:
        return adapter_name(adapter_dir) in self._loaded

    def attach(self, adapter_dir: Path) -> str:
        """Attach ``adapter_dir`` (loading it if missing), mark it used, return its name."""
        name = adapter_name(adapter_dir)
        if name not in self._loaded:
            self._load(adapter_dir, name)
        self._loaded.move_to_end(name)
        return name

    def _load(self, adapter_dir: Path, name: str) -> None:
        if self.peft_model is None:
            self.peft_model = PeftModel.from_pretrained(
                self.base_model, str(adapter_dir), adapter_name=name, is_trainable=False
            )
            self.peft_model.eval()
        else:
            self.peft_model.load_adapter(str(adapter_dir), adapter_name=name, is_trainable=False)
        self._loaded[name] = adapter_bytes(adapter_dir)

    def evict_over_budget(self, keep: set[str]) -> None:
        """Drop least recently used adapters not in ``keep`` while over budget.

        peft needs one adapter to stay attached, so the last one is never dropped.
        """
        assert self.peft_model is not None or not self._loaded
        for name in list(self._loaded):
            if sum(self._loaded.values()) <= self.budget_bytes or len(self._loaded) == 1:
                return
            if name in keep:
                continue
            assert self.peft_model is not None
            self.peft_model.delete_adapter(name)
            del self._loaded[name]
