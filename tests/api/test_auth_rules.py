"""The pure token and role rules in ledger.auth."""

from __future__ import annotations

import pytest

from ledger.auth import (
    ROLES,
    RoleCatalogue,
    Scope,
    check_append,
    check_role,
    check_token_name,
    hash_token,
    looks_like_token,
    may_append,
    new_token,
    scopes_for,
    token_matches,
)
from ledger.errors import BadRequest, Forbidden
from ledger.schema_files import load_catalogue


@pytest.fixture(scope="module")
def catalogue() -> RoleCatalogue:
    return load_catalogue()


def test_new_tokens_are_prefixed_random_and_recognisable() -> None:
    first, second = new_token(), new_token()
    assert first != second
    assert first.startswith("rl_")
    assert len(first) == 46
    assert looks_like_token(first)
    assert not looks_like_token("rl_short")


def test_a_token_is_stored_as_its_sha256_hex() -> None:
    # FIPS 180-2 appendix B.1: SHA-256("abc").
    assert hash_token("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    token = new_token()
    assert token_matches(token, hash_token(token))
    assert not token_matches(new_token(), hash_token(token))


def test_unknown_roles_and_bad_names_are_refused_naming_the_field() -> None:
    with pytest.raises(BadRequest) as role:
        check_role("root")
    assert role.value.field == "role"
    for name in ("", "local:alice", "a b", "x" * 65, "-lead"):
        with pytest.raises(BadRequest) as bad:
            check_token_name(name)
        assert bad.value.field == "name"
    assert check_token_name("ci.fraud-models/github") == "ci.fraud-models/github"


@pytest.mark.parametrize(
    ("role", "scopes"),
    [
        ("pipeline", {Scope.READ, Scope.APPEND}),
        ("approver", {Scope.READ, Scope.APPEND}),
        ("operator", {Scope.READ, Scope.APPEND}),
        ("auditor", {Scope.READ, Scope.VERIFY}),
        ("admin", {Scope.READ, Scope.APPEND, Scope.VERIFY, Scope.ADMIN}),
        ("from-the-future", set()),
    ],
)
def test_each_role_grants_its_scopes(role: str, scopes: set[str]) -> None:
    assert scopes_for(role) == scopes


@pytest.mark.parametrize(
    ("event_type", "allowed"),
    [
        ("model.version.registered", {"pipeline", "admin"}),
        ("test.result.recorded", {"pipeline", "admin"}),
        ("lineage.edge.recorded", {"pipeline", "admin"}),
        ("approval.granted", {"approver", "admin"}),
        ("deployment.decided", {"approver", "admin"}),
        ("rollout.stage.changed", {"operator", "admin"}),
        ("rollback.executed", {"operator", "admin"}),
        ("incident.opened", {"operator", "admin"}),
        ("policy.denied", set()),
    ],
)
def test_the_catalogue_decides_who_appends_each_type(
    event_type: str, allowed: set[str], catalogue: RoleCatalogue
) -> None:
    assert {r for r in ROLES if may_append(r, event_type, catalogue)} == allowed


@pytest.mark.parametrize(
    ("event_type", "allowed"),
    [
        ("model.card.published", {"pipeline", "admin"}),
        ("alert.escalated", {"pipeline", "admin"}),
        ("deployment.paused", {"approver", "admin"}),
        ("review.commented", {"operator", "admin"}),
        ("audit.note", {"admin"}),
    ],
)
def test_types_outside_the_catalogue_fall_back_to_prefixes(
    event_type: str, allowed: set[str], catalogue: RoleCatalogue
) -> None:
    assert {r for r in ROLES if may_append(r, event_type, catalogue)} == allowed
    assert {r for r in ROLES if may_append(r, event_type)} == allowed


def test_a_batch_is_refused_at_its_first_forbidden_type(catalogue: RoleCatalogue) -> None:
    with pytest.raises(Forbidden) as refused:
        check_append("pipeline", ["test.result.recorded", "approval.granted"], catalogue)
    assert refused.value.field == "events[1].type"
    check_append("admin", ["test.result.recorded", "approval.granted"], catalogue)
