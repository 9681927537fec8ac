"""`python -m harness.model_server serve [--model-dir DIR | --model-artifact TAR]`: the container's
entry (no click: the image has only the core packages). Settings come from the environment."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from harness.config import Settings
from harness.errors import HarnessError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.model_server",
        description="SageMaker endpoint mirror: serve a model.tar.gz",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve until SIGTERM/SIGINT")
    source = serve.add_mutually_exclusive_group()
    source.add_argument(
        "--model-dir", type=Path, help="unpacked model (default SAGEMAKER_MODEL_DIR)"
    )
    source.add_argument("--model-artifact", type=Path, help="a model.tar.gz to unpack and serve")
    serve.add_argument("--host", help="default MODEL_SERVER_HOST (127.0.0.1)")
    serve.add_argument("--port", type=int, help="default MODEL_SERVER_PORT (8080)")
    # from the embedded stack's supervisor (harness/stack/supervisor.py), not for users
    serve.add_argument("--listen-fd", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    settings = Settings.from_env(model_server_host=args.host, model_server_port=args.port)
    from harness.model_server.server import serve_until_signal

    try:
        serve_until_signal(
            settings,
            args.model_dir,
            args.model_artifact,
            listen_fd=args.listen_fd,
        )
    except HarnessError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
