"""``python -m examples.new --port 8002 --db new.db``: serve the rewrite (creates its tables)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence

import uvicorn

from examples.new.app import DB_ENV, create_app
from examples.new.models import create_schema


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m examples.new", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--db", default=os.environ.get(DB_ENV), help=f"SQLite file (${DB_ENV})")
    parser.add_argument("--log-level", default="warning")
    parser.add_argument("--init", action="store_true", help="create the tables, then exit")
    args = parser.parse_args(argv)
    if not args.db:
        parser.error(f"--db is required (or set {DB_ENV})")
    if args.init:
        create_schema(f"sqlite:///{args.db}").dispose()
        print(f"{args.db}: tables of the new schema created")
        return
    uvicorn.run(create_app(args.db), host=args.host, port=args.port, log_level=args.log_level)


if __name__ == "__main__":
    main()
