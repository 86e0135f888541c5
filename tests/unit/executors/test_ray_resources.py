"""A job's Ray resources (settings, then the job's overrides) and whether any node fits them."""

from __future__ import annotations

from openrft.executors.ray_resources import job_resources, unplaceable_reason
from openrft.settings import Settings

GIB = 1024**3
NODES = [
    {"Alive": True, "Resources": {"CPU": 2.0, "memory": 8.0 * GIB}},
    {"Alive": True, "Resources": {"CPU": 8.0, "GPU": 1.0, "memory": 32.0 * GIB}},
    {"Alive": False, "Resources": {"CPU": 64.0, "GPU": 8.0}},
]


def test_settings_give_the_defaults_and_the_job_overrides_what_it_sets() -> None:
    settings = Settings(ray_num_cpus=2, ray_memory_bytes=GIB)
    assert job_resources(settings, {}) == {"num_cpus": 2.0, "num_gpus": 0.0, "memory": GIB}
    override = {"resources": {"num_cpus": None, "num_gpus": 1, "memory": None}}
    assert job_resources(settings, override) == {"num_cpus": 2.0, "num_gpus": 1.0, "memory": GIB}


def test_a_request_some_alive_node_has_in_total_is_placeable() -> None:
    assert unplaceable_reason({"num_cpus": 4.0, "num_gpus": 1.0}, NODES) is None
    assert unplaceable_reason({"num_cpus": 2.0, "num_gpus": 0.0, "memory": GIB}, NODES) is None


def test_a_request_no_alive_node_has_says_what_the_cluster_offers() -> None:
    reason = unplaceable_reason({"num_cpus": 1.0, "num_gpus": 2.0}, NODES)
    assert reason is not None
    assert "No node of the Ray cluster (2 alive) has num_cpus=1, num_gpus=2" in reason
    assert "num_cpus=8, num_gpus=1, memory=32.0 GiB" in reason
    assert "`resources` hyperparameter" in reason
