"""``strangler db upgrade|downgrade|current``: the store's schema through Alembic."""

from __future__ import annotations

from typing import Annotated

import typer

from strangler.cli._options import DEFAULT_CONFIG, ConfigOption

db_app = typer.Typer(help="Manage the store's schema (Alembic).", no_args_is_help=True)

UrlOption = Annotated[
    str | None, typer.Option("--url", help="store URL (default: the config's 'store')")
]


def _url(config: ConfigOption, url: str | None) -> str:
    if url:
        return url
    from strangler.config import load_config

    return load_config(config).store


@db_app.command("upgrade")
def upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
    config: ConfigOption = DEFAULT_CONFIG,
    url: UrlOption = None,
) -> int:
    """Upgrade the store's schema (default: to the newest revision)."""
    from strangler.store import schema

    target = _url(config, url)
    schema.upgrade(target, revision)
    typer.echo(f"store at revision {schema.current_revision(target)}")
    return 0


@db_app.command("downgrade")
def downgrade(
    revision: Annotated[str, typer.Argument(help="target revision, or 'base'")],
    config: ConfigOption = DEFAULT_CONFIG,
    url: UrlOption = None,
) -> int:
    """Downgrade the store's schema to a revision ('base' drops every table)."""
    from strangler.store import schema

    target = _url(config, url)
    schema.downgrade(target, revision)
    typer.echo(f"store at revision {schema.current_revision(target) or 'base'}")
    return 0


@db_app.command("current")
def current(config: ConfigOption = DEFAULT_CONFIG, url: UrlOption = None) -> int:
    """Show the store's schema revision and the newest one."""
    from strangler.store import schema

    target = _url(config, url)
    typer.echo(
        f"current: {schema.current_revision(target) or 'base'} (head: {schema.head_revision()})"
    )
    return 0


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
