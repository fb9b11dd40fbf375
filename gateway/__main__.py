"""`python -m gateway [--config FILE]`: serve the recording gateway with uvicorn."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import uvicorn

from ._app import create_app
from .config import load_config, read_secrets
from .errors import ConfigError


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m gateway", description="Forward to Mistral, record each request.")
    parser.add_argument("--config", type=Path, help="TOML config (default: every default; see gateway/example.toml)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        config = load_config(args.config)
        app = create_app(config, read_secrets(config))
    except ConfigError as exc:
        print(f"config error: {exc}", file=sys.stderr)
        return 2
    uvicorn.run(app, host=config.host, port=config.port, log_level="warning", access_log=False,
                server_header=False, date_header=False, proxy_headers=False, timeout_graceful_shutdown=30)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
