"""`python -m gateway [--config FILE]`: serve the recording gateway with uvicorn."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from foundation.log import add_log_level_argument, configure_logging

from ._app import create_app
from ._metrics import Metrics
from ._server import server_options
from .config import load_config, read_secrets
from .errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Forward to Mistral, record each request.")
    parser.add_argument("--config", type=Path, help="TOML config (default: every default; see gateway/example.toml)")
    add_log_level_argument(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    configure_logging(args.log_level)
    metrics = Metrics()
    try:
        config = load_config(args.config)
        app = create_app(config, read_secrets(config), metrics)
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, **server_options(config, metrics), log_config=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
