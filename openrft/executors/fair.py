"""Which queued job to start next: fair across projects, not one global FIFO.

Least-running-first: a queued job of the project with the fewest running jobs goes first,
oldest first among equals. So one project's long or hostile job (a Lambda that hangs with the
largest allowed retries and timeout) never keeps other projects' jobs ``queued`` while a slot
is free; a project at ``per_project_cap`` running jobs waits.
"""

from __future__ import annotations

from collections.abc import Sequence

# How many of the oldest queued jobs one scheduling pass looks at.
QUEUE_WINDOW = 500


def claim_order(
    queued: Sequence[tuple[str, str]], running: dict[str, int], per_project_cap: int | None
) -> list[str]:
    """Job ids of ``queued`` (``(job_id, project)``, oldest first) in the order to try them."""
    allowed = [
        (index, job_id, project)
        for index, (job_id, project) in enumerate(queued)
        if per_project_cap is None or running.get(project, 0) < per_project_cap
    ]
    allowed.sort(key=lambda entry: (running.get(entry[2], 0), entry[0]))
    return [job_id for _, job_id, _ in allowed]
