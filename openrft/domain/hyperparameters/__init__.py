"""``method.<type>.hyperparameters``: one typed schema, its resolution and its docs.

``schema.HYPERPARAMETERS`` holds one ``Hyperparameter`` per field (its docstring says how to add
one); ``resolve_hyperparameters`` validates a request against it and fills in "auto";
``table.markdown_table`` writes the README table from it. Pure: no torch, no I/O.
"""

from openrft.domain.hyperparameters.resolve import (
    canonical_names,
    no_effect_warnings,
    resolve_hyperparameters,
)
from openrft.domain.hyperparameters.schema import (
    BEDROCK_ALIASES,
    HYPERPARAMETERS,
    LOSS_TYPES,
    METHOD_HYPERPARAMETERS,
    SCALE_REWARDS,
    trainer_default,
)
from openrft.domain.hyperparameters.spec import Hyperparameter

__all__ = [
    "BEDROCK_ALIASES",
    "HYPERPARAMETERS",
    "LOSS_TYPES",
    "METHOD_HYPERPARAMETERS",
    "SCALE_REWARDS",
    "Hyperparameter",
    "canonical_names",
    "no_effect_warnings",
    "resolve_hyperparameters",
    "trainer_default",
]
