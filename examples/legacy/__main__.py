"""``python -m examples.legacy --port 8001 --db legacy.db``: serve the legacy app."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path

import uvicorn
from a2wsgi import WSGIMiddleware

from examples.legacy.app import DB_ENV, create_app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.legacy", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--db", default=os.environ.get(DB_ENV), help=f"SQLite file (${DB_ENV})")
    parser.add_argument("--log-level", default="warning")
    args = parser.parse_args(argv)
    if not args.db or not Path(args.db).exists():
        parser.error(
            f"--db: no legacy database at {args.db!r} (create one: python -m examples.seed)"
        )
    app = WSGIMiddleware(create_app(args.db), workers=8)  # type: ignore[arg-type]
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
