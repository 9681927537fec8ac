"""What every benchmark shares: one percentile rule, and one way to report (print the figures as
JSON, save them as bench/results/<name>.json, which git ignores).

Benchmarks run as scripts (`python bench/bench_stack.py`), so this folder is on sys.path.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path

from harness.config import Settings
from harness.stack.readiness import free_port

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest rank on the sorted values (q in [0, 1]); no interpolation, so it is a real sample."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def write_figures(name: str, figures: dict) -> Path:
    text = json.dumps(figures, indent=2)
    print(text)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(text + "\n")
    print(f"written to bench/results/{name}.json")
    return path


def own_stack_settings(name: str, mode: str = "embedded") -> Settings:
    """Settings for a local stack of the bench's own: free ports and a fresh state folder, so
    it runs beside any stack the developer has up."""
    return Settings.from_env(
        mode=mode,
        target="local",
        aws_port=free_port(),
        model_server_port=free_port(),
        sagemaker_api_port=free_port(),
        state_dir=Path(tempfile.mkdtemp(prefix=f"bench-{name}-")),
    )
