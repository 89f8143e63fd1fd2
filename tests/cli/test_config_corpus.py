"""Every malformed config is a clear error: exit 2, no traceback, the key named, the value
quoted (never the whole document), for `check` and for every command that reads a config."""

from __future__ import annotations

from pathlib import Path

import pytest

from strangler.cli import main

OK_HEAD = "legacy: http://127.0.0.1:8001\nnew: http://127.0.0.1:8002\n"
ROUTE = 'routes:\n  - route: "GET /orgs/{slug}"\n'

# (name, file contents, a word the message must contain)
CORPUS: list[tuple[str, str | bytes, str]] = [
    ("binary", b"\x89PNG\r\n\x1a\n\x00\x00", "UTF-8"),
    ("latin-1", "legacy: http://caf\xe9\n".encode("latin-1"), "UTF-8"),
    ("not yaml", "legacy: [unclosed\n", "valid YAML"),
    ("a list on top", "- a\n- b\n", "mapping"),
    ("a scalar on top", "just text\n", "mapping"),
    ("no new", "legacy: http://127.0.0.1:8001\n", "new"),
    ("no legacy", "new: http://127.0.0.1:8002\n", "legacy"),
    ("port out of range", "legacy: http://127.0.0.1:99999\nnew: http://127.0.0.1:8002\n", "port"),
    ("port zero", "legacy: http://127.0.0.1:0\nnew: http://127.0.0.1:8002\n", "port"),
    ("no host", "legacy: http://\nnew: http://127.0.0.1:8002\n", "host"),
    ("bad scheme", "legacy: ftp://x\nnew: http://127.0.0.1:8002\n", "legacy"),
    ("bad import path", "legacy: not an app\nnew: http://127.0.0.1:8002\n", "legacy"),
    ("store scheme", OK_HEAD + "store: notadb://x\n", "store"),
    ("store garbage", OK_HEAD + "store: '::'\n", "store"),
    ("store no host", OK_HEAD + "store: postgresql+psycopg:///x\n", "store"),
    ("store folder missing", OK_HEAD + "store: sqlite:///no/such/dir/s.db\n", "no/such/dir"),
    ("duplicate key", OK_HEAD + ROUTE + "    mode: legacy\n    mode: new\n", "each key once"),
    ("duplicate top key", OK_HEAD + "legacy: http://127.0.0.1:9\n", "each key once"),
    (
        "alias bomb",
        "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
        + "".join(
            f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
            for p, c in zip("abcdefgh", "bcdefghi", strict=True)
        ),
        "alias",
    ),
    ("too deep", "x: " + "[" * 100 + "]" * 100 + "\n", "deeper"),
    ("percent without canary", OK_HEAD + ROUTE + "    percent: 5\n", "percent"),
    ("canary without percent", OK_HEAD + ROUTE + "    mode: canary\n", "percent"),
    ("percent over 100", OK_HEAD + ROUTE + "    mode: canary\n    percent: 101\n", "percent"),
    ("percent steps", OK_HEAD + ROUTE + "    mode: canary\n    percent: 0.001\n", "percent"),
    (
        "timeout infinite",
        OK_HEAD.replace(
            "new: http://127.0.0.1:8002",
            "new: {target: http://127.0.0.1:8002, timeouts: {read: 1e309}}",
        ),
        "read",
    ),
    (
        "timeout negative",
        OK_HEAD.replace(
            "new: http://127.0.0.1:8002",
            "new: {target: http://127.0.0.1:8002, timeouts: {read: -1}}",
        ),
        "read",
    ),
    (
        "max_connections huge",
        OK_HEAD.replace(
            "new: http://127.0.0.1:8002",
            "new: {target: http://127.0.0.1:8002, max_connections: 10000000000000000000000}",
        ),
        "max_connections",
    ),
    (
        "max_connections zero",
        OK_HEAD.replace(
            "new: http://127.0.0.1:8002", "new: {target: http://127.0.0.1:8002, max_connections: 0}"
        ),
        "max_connections",
    ),
    ("param twice", OK_HEAD + 'routes:\n  - route: "GET /a/{id}/b/{id}"\n', "twice"),
    (
        "same route twice",
        OK_HEAD + 'routes:\n  - route: "GET /a/{x}"\n  - route: "get /a/{y}"\n',
        "same as",
    ),
    (
        "route declared twice",
        OK_HEAD + 'routes:\n  - route: "GET /a"\n  - route: "GET /a"\n',
        "twice",
    ),
    ("bad method", OK_HEAD + 'routes:\n  - route: "FETCH /a"\n', "methods"),
    ("no slash", OK_HEAD + 'routes:\n  - route: "GET a"\n', "/"),
    ("path param not last", OK_HEAD + 'routes:\n  - route: "GET /{rest:path}/x"\n', "last"),
    ("bad mode", OK_HEAD + ROUTE + "    mode: sideways\n", "mode"),
    ("unknown key", OK_HEAD + "proxxy: {}\n", "typo"),
    ("unknown route key", OK_HEAD + ROUTE + "    mood: new\n", "typo"),
    ("routes not a list", OK_HEAD + "routes: {a: b}\n", "routes"),
    (
        "readiness unknown route",
        OK_HEAD + ROUTE + "readiness:\n  routes:\n    'GET /nope': {min_compared: 1}\n",
        "no declared route",
    ),
    ("readiness bad value", OK_HEAD + "readiness: {min_parity: 2}\n", "min_parity"),
    ("examples unknown param", OK_HEAD + ROUTE + "    examples: {id: [a]}\n", "path parameter"),
    ("examples empty", OK_HEAD + ROUTE + "    examples: {slug: []}\n", "at least one"),
    ("sticky bad", OK_HEAD + ROUTE + "    sticky: body:x\n", "sticky"),
    ("shadow sample", OK_HEAD + "shadow: {sample: 2}\n", "sample"),
    ("shadow writes", OK_HEAD + "shadow: {writes: sometimes}\n", "writes"),
    ("rules bad path", OK_HEAD + "rules: {ignore: ['not a path']}\n", "ignore"),
    ("mask bad shape", OK_HEAD + "rules: {masks: [{path: $.id, shape: potato}]}\n", "shape"),
    ("trusted proxy", OK_HEAD + "proxy: {trusted_proxies: [not-an-ip]}\n", "trusted_proxies"),
    ("max_body negative", OK_HEAD + "proxy: {max_body: -1}\n", "max_body"),
    ("paths semicolons", OK_HEAD + "proxy: {paths: {semicolons: maybe}}\n", "semicolons"),
    ("admin port", OK_HEAD + "admin: {port: 70000}\n", "port"),
    ("rollback rate", OK_HEAD + "rollback: {max_error_rate: 5}\n", "max_error_rate"),
    ("rollback to", OK_HEAD + "rollback: {to_mode: canary}\n", "to_mode"),
    ("load users", OK_HEAD + "load: {users: 0}\n", "users"),
    ("load duration", OK_HEAD + "load: {duration: soon}\n", "duration"),
    (
        "tls on http",
        OK_HEAD.replace(
            "new: http://127.0.0.1:8002", "new: {target: http://127.0.0.1:8002, tls: {}}"
        ),
        "tls",
    ),
    (
        "auth no route",
        OK_HEAD
        + ROUTE
        + "auth: {domains: [{name: u, routes: ['GET /x'], credential: 'header:Authorization'}]}\n",
        "covers no declared route",
    ),
    (
        "auth credential",
        OK_HEAD
        + ROUTE
        + "auth: {domains: [{name: u, routes: ['GET /orgs/{s}'], credential: token}]}\n",
        "header:NAME",
    ),
    (
        "auth hook",
        OK_HEAD
        + ROUTE
        + "auth: {domains: [{name: u, routes: ['GET /orgs/{s}'], credential: 'cookie:s', to_new: {hook: nope}}]}\n",
        "module:function",
    ),
    ("mappings not a map", OK_HEAD + "mappings: [a]\n", "mappings"),
    ("databases bad", OK_HEAD + "databases: {legacy: 5}\n", "legacy"),
    ("new_sandbox bad", OK_HEAD + "new_sandbox: ftp://x\n", "new_sandbox"),
]

COMMANDS = [["check"], ["serve", "--port", "0"], ["routes"], ["status"], ["report"]]

# What only the commands that run the config need (modules that import, secrets that are
# set): `check` must refuse exactly what `serve` would, before any socket is opened.
RUNTIME_CORPUS: list[tuple[str, str | bytes, str]] = [
    (
        "auth hook missing module",
        OK_HEAD
        + ROUTE
        + "auth: {domains: [{name: u, routes: ['GET /orgs/{s}'], credential: 'cookie:s', to_new: {hook: 'no_such_bridge_mod:f'}}]}\n",
        "auth.domains[0].to_new.hook",
    ),
    (
        "auth hook not there",
        OK_HEAD
        + ROUTE
        + "auth: {domains: [{name: u, routes: ['GET /orgs/{s}'], credential: 'cookie:s', to_legacy: {hook: 'json:no_such_function'}}]}\n",
        "auth.domains[0].to_legacy.hook",
    ),
    (
        "auth exchange secret unset",
        OK_HEAD
        + ROUTE
        + "auth: {domains: [{name: u, routes: ['GET /orgs/{s}'], credential: 'cookie:s', to_new: {exchange: {url: 'http://127.0.0.1:9/x', secret_env: STRANGLER_TEST_UNSET_SECRET}}}]}\n",
        "STRANGLER_TEST_UNSET_SECRET",
    ),
]


def test_the_corpus_is_large() -> None:
    assert len(CORPUS) + len(RUNTIME_CORPUS) >= 60


@pytest.mark.parametrize(("name", "content", "says"), CORPUS, ids=[c[0] for c in CORPUS])
def test_a_malformed_config_is_one_clear_error_for_every_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | bytes, says: str
) -> None:
    path = tmp_path / "strangler.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for command in COMMANDS:
        code = main([command[0], "-c", str(path), *command[1:]])
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert "Traceback" not in err
        assert says.lower() in err.lower(), (command, err)
        assert str(path) in err or "strangler.yaml" in err, err  # the file is named
        assert len(err) < 2_000, err  # a value is quoted, never the whole document


@pytest.mark.parametrize(
    ("name", "content", "says"), RUNTIME_CORPUS, ids=[c[0] for c in RUNTIME_CORPUS]
)
def test_check_refuses_what_serve_would_fail_on_at_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, content: str | bytes, says: str
) -> None:
    path = tmp_path / "strangler.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    for command in (["check"], ["serve", "--port", "0"]):
        code = main([command[0], "-c", str(path), *command[1:]])
        err = capsys.readouterr().err
        assert code == 2, (command, err)
        assert "Traceback" not in err
        assert says.lower() in err.lower(), (command, err)
        assert len(err) < 2_000, err
