"""`python -m model_training` (= `make train`): train with the defaults, write model_training/artifact/.

Like a SageMaker training script, a failure writes its reason to `<SM_OUTPUT_DIR>/failure`
and exits non-zero.
"""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from harness.config import DEFAULT_MODEL_ARTIFACT, Settings
from harness.errors import HarnessError

DEFAULT_OUTPUT = DEFAULT_MODEL_ARTIFACT.parent


def parse_args(argv: list[str] | None, settings: Settings) -> argparse.Namespace:
    from model_training.train import TrainConfig

    defaults = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="python -m model_training",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=settings.data_dir,
        help="train/ test/ *.lst folder (SCONES_DATA_DIR; default %(default)s)",
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=DEFAULT_OUTPUT,
        help="where model.tar.gz and metrics.json go (default %(default)s)",
    )
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument(
        "--folds",
        type=int,
        default=defaults.folds,
        help="cross-fitting folds = networks in the ensemble (default %(default)s)",
    )
    parser.add_argument("--max-epochs", type=int, default=defaults.max_epochs)
    parser.add_argument(
        "--early-stopping",
        action="store_true",
        help="keep each network's best epoch on its held-out fold (default: the final epoch)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bars")
    return parser.parse_args(argv)


def summary(metrics: dict) -> str:
    accepted = metrics["accuracy_at_threshold"]  # None when no test image reaches the threshold
    accuracy = "n/a, none accepted" if accepted is None else f"{accepted:.3f}"
    return (
        f"test accuracy {metrics['accuracy']:.3f}; at threshold {metrics['threshold']}: coverage "
        f"{metrics['coverage']:.3f}, accuracy {accuracy}; "
        f"temperature {metrics['temperature']:.3f}; {metrics['epochs']} epochs in "
        f"{metrics['training_seconds']:.0f} s"
    )


def main(argv: list[str] | None = None) -> int:
    settings = Settings.from_env()
    args = parse_args(argv, settings)
    failure = settings.training_output_dir / "failure"
    failure.unlink(missing_ok=True)
    try:
        from model_training.pipeline import run
        from model_training.train import TrainConfig

        config = TrainConfig(
            seed=args.seed,
            folds=args.folds,
            max_epochs=args.max_epochs,
            early_stopping=args.early_stopping,
        )
        plot = settings.training_output_dir / "threshold-curve.png"
        metrics = run(
            args.data_dir,
            args.output,
            config,
            settings.threshold,
            progress=not args.quiet,
            plot_path=plot,
        )
    except Exception as exc:  # noqa: BLE001 -- the SageMaker convention: say why in the failure file, exit non-zero
        failure.parent.mkdir(parents=True, exist_ok=True)
        failure.write_text(f"{exc}\n\n{traceback.format_exc()}")
        if isinstance(exc, HarnessError):
            print(f"error: {exc.message}", file=sys.stderr)
            if exc.hint:
                print(f"  -> {exc.hint}", file=sys.stderr)
        else:
            traceback.print_exc()
        print(f"training failed; reason written to {failure}", file=sys.stderr)
        return 1
    from rich.console import Console

    from model_training.report import summary_table

    Console().print(summary_table(metrics))
    print(summary(metrics))
    print(f"wrote {args.output / 'model.tar.gz'} and {args.output / 'metrics.json'}")
    print(f"threshold curves (coverage and accuracy against the threshold): {plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
