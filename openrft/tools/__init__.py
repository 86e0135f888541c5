"""Tools a model calls during multi-turn rollouts: the providers of ``method.reinforcement.tools``.

``validate_tool_providers`` checks a job's provider list (API side, no network, no user code);
``Toolbox`` runs calls against the providers (training worker): python functions in the grader
sandbox, an HTTP endpoint, or an MCP server over streamable HTTP.
"""

from openrft.tools.spec import PROVIDER_TYPES, python_function_tools, validate_tool_providers
from openrft.tools.toolbox import Toolbox, ToolResult, build_toolbox

__all__ = [
    "PROVIDER_TYPES",
    "ToolResult",
    "Toolbox",
    "build_toolbox",
    "python_function_tools",
    "validate_tool_providers",
]
