"""The recipes' command sequences, run for real (docs/recipes/*.md, ```bash run``` blocks).

The recipes are independent (each its own folder, free ports, fresh databases), so they all
start at once when the first test of this module runs, and each test waits for its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.docs.recipes import Run, Started, start_recipe

PG_STORE = "postgresql+psycopg://strangler@127.0.0.1/strangler"
PG_NEW = "postgresql+psycopg://app@127.0.0.1/shop"
MARIADB_LEGACY = "mysql+pymysql://app@127.0.0.1/legacy_shop"


@pytest.fixture(scope="module")
def recipes(
    tmp_path_factory: pytest.TempPathFactory,
    new_postgres_schema: Callable[[], str | None],
    new_mariadb_database: Callable[[], str | None],
) -> Iterator[dict[str, Started | str]]:
    """Every recipe, started; a recipe that needs an absent database maps to the reason."""

    def folder(name: str) -> Path:
        return tmp_path_factory.mktemp(name.removesuffix(".md"))

    started: dict[str, Started | str] = {
        "in-process-wsgi.md": start_recipe("in-process-wsgi.md", folder("in-process-wsgi.md")),
    }
    summary = folder("ci") / "step-summary.md"
    started["ci-parity-reports.md"] = start_recipe(
        "ci-parity-reports.md",
        summary.parent,
        env={"GITHUB_STEP_SUMMARY": str(summary)},
    )
    started["https-backends.md"] = start_recipe("https-backends.md", folder("https-backends.md"))
    started["distributed-load.md"] = start_recipe(
        "distributed-load.md", folder("distributed-load.md"), timeout=180
    )
    store = new_postgres_schema()
    if store is None:
        started["postgresql-store.md"] = "STRANGLER_TEST_POSTGRES_URL is not set"
    else:
        started["postgresql-store.md"] = start_recipe(
            "postgresql-store.md", folder("pg"), substitutions={PG_STORE: store}
        )
    new, legacy = new_postgres_schema(), new_mariadb_database()
    if new is None or legacy is None:
        started["mariadb-to-postgresql.md"] = (
            "STRANGLER_TEST_POSTGRES_URL and STRANGLER_TEST_MARIADB_URL are needed"
        )
    else:
        started["mariadb-to-postgresql.md"] = start_recipe(
            "mariadb-to-postgresql.md",
            folder("data"),
            substitutions={MARIADB_LEGACY: legacy, PG_NEW: new, PG_STORE: new},
            timeout=180,
        )
    yield started
    for run in started.values():
        if isinstance(run, Started):
            run.wait()


def finished(recipes: dict[str, Started | str], name: str) -> Run:
    started = recipes[name]
    if isinstance(started, str):
        pytest.skip(f"{name}: {started}")
    run = started.wait()
    assert run.returncode == 0, run.explain()
    return run


def test_in_process_flask_recipe_shadows_then_splits_users(
    recipes: dict[str, Started | str],
) -> None:
    run = finished(recipes, "in-process-wsgi.md")
    assert "strangler.yaml: OK" in run.output
    assert "100.0%" in run.output, run.explain()  # the report: every comparison matched
    assert "flipped GET /orgs/{slug}: shadow -> canary 50%" in run.output, run.explain()
    sides = [
        line.split(":", 1)[1].strip()
        for line in run.output.lower().splitlines()
        if line.startswith("x-served-by:")
    ]
    assert len(sides) == 6, run.explain()
    assert set(sides) == {"legacy", "new"}, run.explain()


def test_https_recipe_reaches_legacy_over_mutual_tls_and_names_each_failure(
    recipes: dict[str, Started | str],
) -> None:
    run = finished(recipes, "https-backends.md")
    out = run.output
    assert "strangler.yaml: OK" in out, run.explain()
    assert '{"served_by": "legacy", "path": "/orgs/acme"}' in out, run.explain()
    refused = next(line for line in out.splitlines() if "upstream_tls_error" in line)
    assert '"backend":"legacy"' in refused, refused
    assert "require a client certificate" in refused, refused
    assert "typo.yaml: legacy.tls.client_key: got 'certs/proxy.key'" in out, run.explain()
    assert "check exit 2" in out, run.explain()


def test_postgresql_recipe_flips_reach_every_instance(recipes: dict[str, Started | str]) -> None:
    run = finished(recipes, "postgresql-store.md")
    followed = [line for line in run.output.splitlines() if line.startswith("both instances")]
    assert [line.split()[3] for line in followed] == ["legacy", "new", "legacy"], run.explain()
    assert "(forced)" in run.output, run.explain()
    assert "kill switch on" in run.output, run.explain()


def test_ci_recipe_records_replays_and_publishes_the_report(
    recipes: dict[str, Started | str],
) -> None:
    run = finished(recipes, "ci-parity-reports.md")
    assert "wrote " in run.output, run.explain()  # the recorder wrote the corpus
    report = (run.folder / "step-summary.md").read_text(encoding="utf-8")
    assert report.startswith("# Parity"), report
    assert "GET /orgs/{slug}/members" in report
    assert "$.members" in report, report
    junit = (run.folder / "parity.xml").read_text(encoding="utf-8")
    assert "GET /orgs/{slug}" in junit
    assert "XFAIL" in run.output, run.explain()
    assert (run.folder / "parity.html").stat().st_size > 1000
    assert "parity tests" in run.output, run.explain()  # readiness reads the evidence


def test_distributed_load_recipe_runs_master_and_two_workers(
    recipes: dict[str, Started | str],
) -> None:
    run = finished(recipes, "distributed-load.md")
    report = (run.folder / "load.md").read_text(encoding="utf-8")
    assert "GET /orgs/{slug}" in report, report
    assert "GET /health" in report, report
    assert report.count("2 workers") == 2, report  # legacy and new, both workers took part


def test_mariadb_to_postgresql_recipe_copies_verifies_repairs_and_guards(
    recipes: dict[str, Started | str],
) -> None:
    run = finished(recipes, "mariadb-to-postgresql.md")
    out = run.output
    assert "job 1 done: 5000 legacy rows copied" in out, run.explain()
    assert "would write" in out  # the dry run
    catchup = next(line for line in out.splitlines() if line.startswith("job 2 ("))
    assert "catchup" in catchup, catchup
    rows = int(catchup.split(",")[1].split()[0])
    assert rows < 10, catchup  # only what legacy changed since the watermark
    assert "different [2]  amount: '518.5' → '0.01'" in out, run.explain()
    assert "verify exit 1: not clean" in out, run.explain()
    assert "repaired" in out, run.explain()
    assert "clean=True" in out, run.explain()  # the contract guard passed
