"""``icp token create|list|revoke``: a token printed once, kept only as a salted HMAC."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from icpkit.cli.main import app
from icpkit.serve.tokens import TokenError, TokenStore, check_token
from icpkit.workspace import Workspace


def test_a_created_token_checks_and_a_changed_one_does_not(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    record, token = store.create("crm-sync", "read")
    assert token.startswith(f"icp_{record.id}_")
    assert check_token(store.records(), token) == record
    secret = token.split("_", 2)[2]
    flipped = token[: -len(secret)] + secret[::-1]
    assert check_token(store.records(), flipped) is None
    assert check_token(store.records(), "icp_00000000_" + secret) is None


def test_two_tokens_of_one_secret_length_get_different_salts(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    a, _ = store.create("a")
    b, _ = store.create("b")
    assert a.salt != b.salt and a.digest != b.digest


def test_a_revoked_token_stays_listed_and_no_longer_checks(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    _, token = store.create("crm-sync")
    revoked = store.revoke("crm-sync")
    assert revoked.revoked_at is not None
    assert check_token(store.records(), token) is None
    assert [r.name for r in store.records()] == ["crm-sync"]
    # The name is free again once revoked.
    _, again = store.create("crm-sync")
    assert check_token(store.records(), again) is not None


@pytest.mark.parametrize(
    ("name", "scope", "says"),
    [
        ("crm sync", "score", "token name 'crm sync'"),
        ("ok", "admin", "token scope 'admin': one of score, read"),
    ],
)
def test_a_bad_name_or_scope_is_refused(tmp_path: Path, name: str, scope: str, says: str) -> None:
    with pytest.raises(TokenError, match=says):
        TokenStore(tmp_path).create(name, scope)


def test_an_active_name_cannot_be_taken_twice(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.create("crm-sync")
    with pytest.raises(TokenError, match="exists already"):
        store.create("crm-sync")


def test_a_damaged_tokens_file_is_named(tmp_path: Path) -> None:
    store = TokenStore(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{", encoding="utf-8")
    with pytest.raises(TokenError, match="not a tokens file icpkit wrote"):
        store.records()


def test_the_cli_prints_a_token_once_and_lists_it_without_it(ws: Workspace) -> None:
    runner = CliRunner()
    root = str(ws.root)
    created = runner.invoke(app, ["token", "create", "--name", "crm-sync", "--workspace", root])
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("icp_")
    listed = runner.invoke(app, ["token", "list", "--workspace", root])
    assert "crm-sync" in listed.output and "score" in listed.output
    assert token not in listed.output and token.split("_", 2)[2] not in listed.output
    revoked = runner.invoke(app, ["token", "revoke", "crm-sync", "--workspace", root])
    assert revoked.exit_code == 0
    assert json.loads((ws.root / ".icp" / "tokens.json").read_text())["tokens"][0]["revoked_at"]
    missing = runner.invoke(app, ["token", "revoke", "crm-sync", "--workspace", root])
    assert missing.exit_code == 1
    assert "no active token named 'crm-sync'" in missing.output
