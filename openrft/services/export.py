"""``openrft export``: a served model as a Hugging Face directory that transformers loads.

A LoRA model is written as its adapter (``adapter_config.json`` pointing at the local base
model dir + ``adapter_model.safetensors``; transformers loads it through peft) or, with
``merged``, as full weights with the adapter merged in. Base and full fine-tuned models are
written as full weights. The tokenizer (with its chat template) always comes along.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from openrft.errors import InvalidRequestError
from openrft.inference.adapters import is_lora_dir
from openrft.inference.registry import (
    canonical_base_name,
    load_model_dir,
    load_tokenizer,
    resolve_model_dir,
)
from openrft.services.models import ModelService
from openrft.settings import Settings

_ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")


def project_of(model_id: str) -> str:
    """The project field of ``ft:{base}:{project}:{suffix}:{job_id}[:ckpt-step-N]``."""
    parts = model_id.split(":")
    if parts[0] != "ft" or len(parts) < 5:
        raise InvalidRequestError(f"'{model_id}' is not a fine-tuned model id.", param="model")
    return parts[-4] if parts[-1].startswith("ckpt-step-") else parts[-3]


def export_model(model_id: str, out_dir: Path, *, settings: Settings, merged: bool = False) -> Path:
    """Write ``model_id`` (base, ``ft:`` or checkpoint) to ``out_dir``; returns ``out_dir``."""
    from openrft.db.engine import make_engine, make_session_factory
    from openrft.storage.blobs import open_blob_store

    engine = make_engine(settings.resolved_database_url)
    try:
        models = ModelService(make_session_factory(engine), open_blob_store(settings))
        project = project_of(model_id) if model_id.startswith("ft:") else ""
        resolved = models.resolve(project, model_id)
    finally:
        engine.dispose()
    cache_dir = settings.resolved_model_cache_dir
    base_dir = resolve_model_dir(canonical_base_name(resolved.base_model), cache_dir=cache_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    weights = resolved.adapter_dir
    if weights is not None and is_lora_dir(weights) and not merged:
        _write_adapter(weights, base_dir, out_dir)
    elif weights is not None and is_lora_dir(weights):
        _write_merged(weights, base_dir, out_dir)
    else:
        load_model_dir(weights or base_dir).save_pretrained(out_dir)
    load_tokenizer(resolved.base_model, cache_dir=cache_dir).save_pretrained(out_dir)
    return out_dir


def _write_adapter(adapter_dir: Path, base_dir: str, out_dir: Path) -> None:
    """Copy the adapter; its config names the local base dir so it loads offline."""
    for name in _ADAPTER_FILES:
        shutil.copyfile(adapter_dir / name, out_dir / name)
    config_path = out_dir / "adapter_config.json"
    config = json.loads(config_path.read_text())
    config["base_model_name_or_path"] = base_dir
    config_path.write_text(json.dumps(config, indent=2))


def _write_merged(adapter_dir: Path, base_dir: str, out_dir: Path) -> None:
    from peft import PeftModel

    model = PeftModel.from_pretrained(load_model_dir(base_dir), str(adapter_dir))
    model.merge_and_unload().save_pretrained(out_dir)
