"""Signed notes (ledger.note) and tlog-checkpoints (ledger.checkpoint).

Known answers come from outside: golang.org/x/mod/sumdb/note's note_test.go
(the PeterNeumann and EnochRoot keys and notes), transparency-dev/formats'
log/note_test.go (key pairs and a real sum.golang.org checkpoint) and the
c2sp.org/tlog-checkpoint example.
"""

from __future__ import annotations

import base64
import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    parse_checkpoint_body,
    sign_checkpoint,
    verify_checkpoint,
)
from ledger.errors import CheckpointInvalid
from ledger.note import (
    MAX_SIGNATURES,
    Signer,
    Verifier,
    generate_signer,
    open_note,
    parse_verifier_key,
    sign_note,
)

# golang.org/x/mod/sumdb/note/note_test.go
PETER_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb"
    "6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WW"
    "d1RvMc+QQ=\n"
)

# transparency-dev/formats log/note_test.go: (private key, verifier key) pairs
TD_KEY_PAIRS = [
    (
        "PRIVATE+KEY+Log+2271c621+AdEIq9FLRQni54Wg68T96VJO+iayOaulswav2DUMKgvQ",
        "Log+2271c621+AemuH5ooBpEPcr+W8onrjA1NfuzBVHdezakU81Ekarvs",
    ),
    (
        "PRIVATE+KEY+Known+451c786d+AQPRoE2+Z+Ed1HaHBA9F/FfracvcZ2rDU39kCecMEoci",
        "Known+451c786d+AXAQ0T7lbwuY4ABJ9/MYY9bWV3hmSyOGVt2x42NkmdUH",
    ),
    (
        "PRIVATE+KEY+KnownAgain+4893b26c+ARhZda/l25zjGZswYLDZsLNRzNpmv5wYTN9IoTr1OJ2+",
        "KnownAgain+4893b26c+AQ+LR7BFF/F/dkpIBjBpSvT0crkteizuUkavAoGeaYMj",
    ),
    (
        "PRIVATE+KEY+Unknown+fdbb2e08+Aav2knTC6orbhXX8pMWuNiWgO+Wwk2DB+h1eU2Q1W1nU",
        "Unknown+fdbb2e08+AWgRIYZ+8x1Vl+1Q+sR8zciNHiYI1SdlBjNw+RV0rots",
    ),
]
SUMDB_VKEY = "sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ux18htTTAD8OuAn8"
SUMDB_NOTE = (
    "go.sum database tree\n"
    "6476701\n"
    "mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk=\n"
    "\n"
    "— sum.golang.org Az3grsLX85Gz+s1SiTbgkuqxgItqFq7gsMUEyVnrsa9LM7Us9S+1xbFIGu95949rj4nPRYfvi"
    "mWEPWL+o3GeoWwOoAw=\n"
)

ORIGIN = "ledger.example/test"
LOG = Signer(ORIGIN, bytes(range(32)))
OTHER = Signer("witness.example/w1", bytes(range(32, 64)))
ROOT = bytes.fromhex("a7" * 32)
CHECKPOINT = Checkpoint(ORIGIN, 42, ROOT)


# ---- known answers ------------------------------------------------------------------


def test_signer_from_go_private_key_derives_go_verifier_key() -> None:
    signer = Signer.from_private_key_string(PETER_SKEY)
    assert (signer.key_name, signer.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert signer.verifier_key() == PETER_VKEY
    assert signer.private_key_string() == PETER_SKEY


@pytest.mark.parametrize(("private_key", "verifier_key"), TD_KEY_PAIRS)
def test_transparency_dev_key_pairs_match(private_key: str, verifier_key: str) -> None:
    signer = Signer.from_private_key_string(private_key)
    assert signer.verifier_key() == verifier_key
    assert signer.private_key_string() == private_key
    assert parse_verifier_key(verifier_key) == signer.verifier


def test_sign_note_reproduces_go_signature_byte_for_byte() -> None:
    note = sign_note(TEXT, [Signer.from_private_key_string(PETER_SKEY)])
    assert note == TEXT + "\n" + PETER_SIG


def test_open_note_accepts_go_signed_note() -> None:
    assert open_note(TEXT + "\n" + PETER_SIG, [parse_verifier_key(PETER_VKEY)]) == (
        TEXT,
        ["PeterNeumann"],
    )


def test_open_note_ignores_go_signature_by_a_key_it_does_not_know() -> None:
    note = TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(note, [parse_verifier_key(PETER_VKEY)]) == (TEXT, ["PeterNeumann"])


def test_open_note_names_every_known_key_that_signed() -> None:
    note = TEXT + "\n" + ENOCH_SIG + PETER_SIG + PETER_SIG
    verifiers = [parse_verifier_key(PETER_VKEY), parse_verifier_key(ENOCH_VKEY)]
    assert open_note(note, verifiers) == (TEXT, ["EnochRoot", "PeterNeumann"])


def test_verify_checkpoint_accepts_real_sum_golang_org_checkpoint() -> None:
    checkpoint = verify_checkpoint(
        SUMDB_NOTE, parse_verifier_key(SUMDB_VKEY), origin="go.sum database tree"
    )
    assert checkpoint == Checkpoint(
        "go.sum database tree",
        6476701,
        base64.b64decode("mb8QLQIs0Z0yP5Cstq6guj87oXWeC9gEM8oVikmm9Wk="),
    )


def test_parse_checkpoint_body_reads_c2sp_spec_example() -> None:
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    checkpoint = parse_checkpoint_body(body)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert checkpoint.body() == body


def _manglings(key: str) -> list[str]:
    """Every proper substring and every one-character increment (Go's TestNewVerifier)."""
    cut = [key[i:j] for i in range(len(key)) for j in range(i + 1, len(key) + 1)]
    bumped = [key[:i] + chr(ord(key[i]) + 1) + key[i + 1 :] for i in range(len(key))]
    return [k for k in cut + bumped if k != key]


def test_parse_verifier_key_rejects_every_mangling_of_a_go_key() -> None:
    accepted = []
    for key in _manglings(PETER_VKEY):
        try:
            parse_verifier_key(key)
        except CheckpointInvalid:
            continue
        accepted.append(key)
    assert accepted == []


def test_from_private_key_string_rejects_every_mangling_of_a_go_key() -> None:
    accepted = []
    for key in _manglings(PETER_SKEY):
        try:
            Signer.from_private_key_string(key)
        except CheckpointInvalid:
            continue
        accepted.append(key)
    assert accepted == []


@pytest.mark.parametrize(
    "key",
    [
        # from Go's TestNewVerifier: wrong key length, unknown algorithm (ids adjusted)
        "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY==",
        "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "PeterNeumann+0xc74f20+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
        "",
    ],
)
def test_parse_verifier_key_rejects_malformed_keys(key: str) -> None:
    with pytest.raises(CheckpointInvalid):
        parse_verifier_key(key)


# ---- round trips --------------------------------------------------------------------


def test_signed_checkpoint_verifies_to_the_same_checkpoint() -> None:
    note = sign_checkpoint(CHECKPOINT, LOG)
    assert note.startswith(f"{ORIGIN}\n42\n{base64.b64encode(ROOT).decode()}\n\n— {ORIGIN} ")
    assert verify_checkpoint(note, LOG.verifier, origin=ORIGIN) == CHECKPOINT
    assert verify_checkpoint(note.encode(), LOG.verifier) == CHECKPOINT


def test_checkpoint_with_extensions_round_trips_through_a_signed_note() -> None:
    checkpoint = dataclasses.replace(CHECKPOINT, extensions=("ext one", "— two"))
    assert verify_checkpoint(sign_checkpoint(checkpoint, LOG), LOG.verifier) == checkpoint


def test_generated_signer_survives_its_private_key_string() -> None:
    signer = generate_signer(ORIGIN)
    restored = Signer.from_private_key_string(signer.private_key_string() + "\n")
    assert restored.verifier == signer.verifier
    assert parse_verifier_key(signer.verifier_key()) == signer.verifier
    assert verify_checkpoint(sign_checkpoint(CHECKPOINT, restored), signer.verifier) == CHECKPOINT


def test_signer_repr_does_not_show_the_private_key() -> None:
    secret = LOG.private_key_string().rsplit("+", 1)[1]
    assert secret not in repr(LOG)
    assert repr(LOG) == f"Signer(key_name='{ORIGIN}', key_id={LOG.key_id:08x})"


_line_text = st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1)


@given(
    origin=_line_text,
    size=st.integers(0, MAX_TREE_SIZE),
    root=st.binary(min_size=32, max_size=32),
    extensions=st.lists(_line_text, max_size=3).map(tuple),
)
def test_checkpoint_body_round_trips(
    origin: str, size: int, root: bytes, extensions: tuple[str, ...]
) -> None:
    checkpoint = Checkpoint(origin, size, root, extensions)
    assert parse_checkpoint_body(checkpoint.body()) == checkpoint


@given(lines=st.lists(st.text(st.characters(exclude_categories=("Cc", "Cs"))), min_size=1))
def test_any_note_body_opens_to_itself(lines: list[str]) -> None:
    body = "".join(f"{line}\n" for line in lines)  # blank lines inside the body are allowed
    assert open_note(sign_note(body, [LOG, OTHER]), [LOG.verifier]) == (body, [ORIGIN])


# ---- tampering and wrong keys -------------------------------------------------------


@pytest.mark.parametrize("line", [0, 1, 2, 3], ids=["origin", "size", "root", "extension"])
def test_verify_checkpoint_rejects_each_tampered_body_line(line: int) -> None:
    checkpoint = dataclasses.replace(CHECKPOINT, extensions=("note",))
    body = checkpoint.body().split("\n")
    tampered_line = {0: "ledger.example/evil", 1: "43", 2: base64.b64encode(bytes(32)).decode()}
    body[line] = tampered_line.get(line, "other")
    signatures = sign_checkpoint(checkpoint, LOG).split("\n\n", 1)[1]
    with pytest.raises(CheckpointInvalid, match="invalid signature"):
        verify_checkpoint("\n".join(body) + "\n" + signatures, LOG.verifier)


@given(data=st.data())
def test_open_note_rejects_any_changed_character_of_the_body(data: st.DataObject) -> None:
    body = CHECKPOINT.body()
    note = sign_note(body, [LOG])
    index = data.draw(st.integers(0, len(body) - 1))
    replacement = data.draw(st.characters(exclude_characters=body[index]))
    with pytest.raises(CheckpointInvalid):
        open_note(note[:index] + replacement + note[index + 1 :], [LOG.verifier])


def test_verify_checkpoint_rejects_another_key_under_the_same_name() -> None:
    impostor = generate_signer(ORIGIN)
    with pytest.raises(CheckpointInvalid, match="no signature by a trusted key"):
        verify_checkpoint(sign_checkpoint(CHECKPOINT, impostor), LOG.verifier)


def test_verify_checkpoint_rejects_a_note_signed_only_by_an_unknown_key_name() -> None:
    with pytest.raises(CheckpointInvalid, match="no signature by a trusted key"):
        verify_checkpoint(sign_checkpoint(CHECKPOINT, OTHER), LOG.verifier)


def test_verify_checkpoint_rejects_a_checkpoint_for_another_origin() -> None:
    with pytest.raises(CheckpointInvalid, match="origin"):
        verify_checkpoint(sign_checkpoint(CHECKPOINT, LOG), LOG.verifier, origin="other.example")


def test_open_note_rejects_a_bad_signature_by_a_known_key() -> None:
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]  # Go's "Invalid signature" case
    with pytest.raises(
        CheckpointInvalid, match=r"invalid signature for key PeterNeumann\+c74f20a3"
    ):
        open_note(TEXT + "\n" + PETER_SIG + bad, [parse_verifier_key(PETER_VKEY)])


def test_open_note_ignores_a_known_name_with_a_mismatched_key_id() -> None:
    wrong_id = PETER_SIG.replace("x08g", "xxxx")  # Go's wrongHash: same name, other key id
    peter = parse_verifier_key(PETER_VKEY)
    with pytest.raises(CheckpointInvalid, match="no signature by a trusted key"):
        open_note(TEXT + "\n" + wrong_id, [peter])
    assert open_note(TEXT + "\n" + wrong_id + PETER_SIG, [peter]) == (TEXT, ["PeterNeumann"])


def test_open_note_ignores_a_known_key_id_under_another_name() -> None:
    misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    with pytest.raises(CheckpointInvalid, match="no signature by a trusted key"):
        open_note(TEXT + "\n" + misnamed, [parse_verifier_key(PETER_VKEY)])


def test_open_note_accepts_extra_unknown_signatures() -> None:
    witness = generate_signer("witness.example/w2")
    note = sign_note(CHECKPOINT.body(), [OTHER, LOG, witness])
    assert open_note(note, [LOG.verifier]) == (CHECKPOINT.body(), [ORIGIN])


def test_open_note_rejects_two_trusted_keys_sharing_a_name_and_key_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(Verifier, "key_id", property(lambda self: 1))
    twin = Verifier(ORIGIN, OTHER.verifier.public_key)
    with pytest.raises(CheckpointInvalid, match="ambiguous key"):
        open_note(sign_note("hello\n", [LOG]), [LOG.verifier, twin])


def test_open_note_with_no_trusted_keys_rejects_every_note() -> None:
    with pytest.raises(CheckpointInvalid, match="no signature by a trusted key"):
        open_note(TEXT + "\n" + PETER_SIG, [])


# ---- malformed notes ------------------------------------------------------------------


def test_open_note_accepts_the_maximum_number_of_signatures() -> None:
    note = TEXT + "\n" + PETER_SIG * MAX_SIGNATURES
    assert open_note(note, [parse_verifier_key(PETER_VKEY)]) == (TEXT, ["PeterNeumann"])


@pytest.mark.parametrize(
    "note",
    [
        pytest.param("", id="empty"),
        pytest.param(TEXT, id="no blank line"),
        pytest.param(TEXT + "\n", id="no signatures"),
        pytest.param(TEXT + "\n" + PETER_SIG[:-1], id="no final newline"),
        pytest.param("\x01" + TEXT + "\n" + PETER_SIG, id="control character"),
        pytest.param(TEXT.replace("\n", "\r\n") + "\r\n" + PETER_SIG, id="CRLF"),
        pytest.param("a\tb\n" + "\n" + PETER_SIG, id="tab"),
        pytest.param(b"\xff" + (TEXT + "\n" + PETER_SIG).encode(), id="not UTF-8"),
        pytest.param("\ud800" + TEXT + "\n" + PETER_SIG, id="lone surrogate"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "Bad Name"), id="bad name"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("PeterNeumann", "a+b"), id="plus in name"),
        pytest.param(TEXT + "\n" + PETER_SIG + "Unexpected line.\n", id="trailing line"),
        pytest.param(TEXT + "\n" + PETER_SIG + "\n", id="trailing blank line"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("— ", "-- "), id="ascii dashes"),
        pytest.param(TEXT + "\n" + "— PeterNeumann !!!!\n", id="bad base64"),
        pytest.param(TEXT + "\n" + "— PeterNeumann\n", id="no signature"),
        pytest.param(TEXT + "\n" + "— PeterNeumann x08gow==\n", id="signature too short"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("AM=", "AN="), id="non-canonical base64"),
        pytest.param(TEXT + "\n" + PETER_SIG.replace("=\n", "\n"), id="unpadded base64"),
        pytest.param(TEXT + "\n" + PETER_SIG * (MAX_SIGNATURES + 1), id="too many signatures"),
    ],
)
def test_open_note_rejects_malformed_notes(note: str | bytes) -> None:
    with pytest.raises(CheckpointInvalid):
        open_note(note, [parse_verifier_key(PETER_VKEY)])


@pytest.mark.parametrize(
    ("body", "signers"),
    [
        pytest.param("no final newline", [LOG], id="no final newline"),
        pytest.param("", [LOG], id="empty"),
        pytest.param("a\x00b\n", [LOG], id="control character"),
        pytest.param("hello\n", [], id="no signers"),
        pytest.param("hello\n", [LOG] * (MAX_SIGNATURES + 1), id="too many signers"),
    ],
)
def test_sign_note_refuses_what_would_be_a_malformed_note(body: str, signers: list[Signer]) -> None:
    with pytest.raises(CheckpointInvalid):
        sign_note(body, signers)


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u00a0b", "a\u2003b", "\ud800"])
def test_key_names_must_be_non_empty_without_spaces_or_plus(name: str) -> None:
    with pytest.raises(CheckpointInvalid, match="bad key name"):
        generate_signer(name)
    with pytest.raises(CheckpointInvalid, match="bad key name"):
        Verifier(name, LOG.verifier.public_key)


# ---- checkpoint bodies ----------------------------------------------------------------

_ROOT_B64 = base64.b64encode(ROOT).decode()


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"{ORIGIN}\n42\n{_ROOT_B64}", id="no final newline"),
        pytest.param(f"{ORIGIN}\n42\n", id="no root line"),
        pytest.param(f"\n42\n{_ROOT_B64}\n", id="empty origin"),
        pytest.param(f"{ORIGIN}\n42\n{_ROOT_B64}\n\n", id="empty extension line"),
        pytest.param(f"{ORIGIN}\n42\n{_ROOT_B64}\n\nmore\n", id="blank line before extension"),
        *(
            pytest.param(f"{ORIGIN}\n{size}\n{_ROOT_B64}\n", id=f"size {size!r}")
            for size in ["01", "00", "-1", "+1", " 1", "1 ", "", "1_0", "\u0661", "0x1", "1.0"]
        ),
        pytest.param(f"{ORIGIN}\n{2**64}\n{_ROOT_B64}\n", id="size over uint64"),
        *(
            pytest.param(f"{ORIGIN}\n42\n{root}\n", id=f"root {root!r}")
            for root in [
                base64.b64encode(bytes(31)).decode(),
                base64.b64encode(bytes(33)).decode(),
                _ROOT_B64.rstrip("="),
                base64.urlsafe_b64encode(b"\xfb" * 32).decode(),
                _ROOT_B64[:-2] + "9=",
                "",
            ]
        ),
        pytest.param(f"{ORIGIN}\r\n42\n{_ROOT_B64}\n", id="carriage return"),
    ],
)
def test_parse_checkpoint_body_rejects_malformed_bodies(body: str) -> None:
    with pytest.raises(CheckpointInvalid):
        parse_checkpoint_body(body)


@pytest.mark.parametrize(
    "fields",
    [
        pytest.param({"origin": ""}, id="empty origin"),
        pytest.param({"origin": "a\nb"}, id="newline in origin"),
        pytest.param({"size": -1}, id="negative size"),
        pytest.param({"size": 2**64}, id="size over uint64"),
        pytest.param({"size": True}, id="bool size"),
        pytest.param({"root_hash": bytes(31)}, id="short root"),
        pytest.param({"extensions": ("",)}, id="empty extension"),
        pytest.param({"extensions": ("a\nb",)}, id="newline in extension"),
    ],
)
def test_checkpoint_refuses_values_that_have_no_body(fields: dict[str, object]) -> None:
    with pytest.raises(CheckpointInvalid):
        dataclasses.replace(CHECKPOINT, **fields)  # type: ignore[arg-type]


def test_verify_checkpoint_rejects_a_signed_body_that_is_not_a_checkpoint() -> None:
    note = sign_note("if this is a valid checkpoint then I'll eat my hat\n", [LOG])
    with pytest.raises(CheckpointInvalid, match="origin, a tree size and a root hash"):
        verify_checkpoint(note, LOG.verifier)
