"""Base model names, from the inference registry (torch-free, so the API process starts fast)."""

from __future__ import annotations

from openrft.errors import InvalidRequestError


def base_model_names() -> list[str]:
    """The built-in base model ids, canonical form."""
    from openrft.inference.names import base_model_names as names

    return names()


def canonical_base_model(name: object, *, param: str = "model") -> str:
    """Canonical id of an accepted base model name; 400 naming ``param`` otherwise."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidRequestError("'model' must be a non-empty string.", param=param)
    from openrft.inference.names import canonical_base_name

    try:
        return canonical_base_name(name)
    except InvalidRequestError as exc:
        raise InvalidRequestError(
            f"The model '{name}' does not exist. Use one of {', '.join(base_model_names())}, "
            "a local Hugging Face model directory, a .gguf file or a hub id 'org/name'.",
            param=param,
            code="model_not_found",
        ) from exc
