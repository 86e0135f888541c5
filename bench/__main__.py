"""Run every benchmark module's ``main()`` (or the ones named) and record how each went.

Each module prints its own results and writes its JSON under ``bench/results/``; this runner
adds ``bench/results/summary.json`` with each module's status and wall time, and the code the
run measured (``bench.source``: commit and uncommitted changes, before and after; a run whose
code changed meanwhile is flagged and exits 1). A failing benchmark is reported and the others
still run; nothing here asserts anything about speed.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from bench.source import source_state

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


def benchmark_modules() -> list[str]:
    """Names of modules in ``bench/`` that define ``main``, sorted."""
    names = []
    for info in pkgutil.iter_modules([str(BENCH_DIR)]):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"bench.{info.name}")
        if callable(getattr(module, "main", None)):
            names.append(info.name)
    return sorted(names)


def run_one(name: str) -> dict[str, Any]:
    """Run ``bench.<name>.main([])``; never raises."""
    print(f"== bench.{name}", flush=True)
    start = time.perf_counter()
    try:
        importlib.import_module(f"bench.{name}").main([])
    except Exception:
        traceback.print_exc()
        return {"ok": False, "seconds": round(time.perf_counter() - start, 1), "error": "see log"}
    return {"ok": True, "seconds": round(time.perf_counter() - start, 1)}


def main(argv: list[str]) -> int:
    modules = benchmark_modules()
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", help=f"benchmarks to run, of {', '.join(modules)}")
    names = parser.parse_args(argv).names or modules
    unknown = sorted(set(names) - set(modules))
    if unknown:  # argparse's choices reject an empty list of a nargs="*" argument
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(modules)}")
    before = source_state(BENCH_DIR.parent)
    results = {name: run_one(name) for name in names}
    after = source_state(BENCH_DIR.parent)
    source = {"before": before, "after": after, "changed_during_run": before != after}
    summary = {**results, "source": source}
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    (RESULTS_DIR / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    if before != after:
        print("the measured code changed during the run: its numbers mix versions", flush=True)
        return 1
    return 0 if all(entry["ok"] for entry in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
