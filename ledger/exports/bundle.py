"""Audit bundles: the events about one model or incident, provable offline.

A bundle is a set of named files (a directory or a zip; reading and writing
them is the caller's job, so this module stays pure):

``events.jsonl``
    the events, in seq order, each exactly as ``rollout-ledger export``
    writes it (the stored canonical bytes plus ``hash``);
``proofs.json``
    one RFC 9162 inclusion proof per event, all against the same tree size;
``checkpoint.txt``
    the one signed checkpoint (C2SP signed note) of that tree size;
``verifier-key.txt``
    the ledger's verifier key (``rollout-ledger key show``);
``report.md``, ``report.html``, ``lineage.mmd``, ``provenance.json``
    renderings for people (not evidence: nothing in them is verified);
``VERIFY.txt``
    the command that verifies the bundle offline.

:func:`verify_bundle` checks the signature of the checkpoint, every event's
hash and every inclusion proof against the signed root, with the checks of
``ledger.checkpoint``, ``ledger.offline`` and ``ledger.merkle`` (STYLE.md
7.5: verification takes its data as arguments). A bundle is not a whole
export: it proves each event is *in* the signed ledger, not that no other
event about the model exists (``verify-export`` proves completeness).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import orjson

from ledger.chain import export_line
from ledger.checkpoint import Checkpoint, verify_checkpoint
from ledger.errors import BadRequest, CheckpointInvalid, ProofInvalid
from ledger.events import Event
from ledger.merkle import leaf_hash, verify_inclusion
from ledger.note import Verifier, parse_verifier_key
from ledger.offline import parse_export_line
from ledger.proofs import InclusionProof

__all__ = [
    "CHECKPOINT",
    "EVENTS",
    "EVIDENCE_FILES",
    "KEY",
    "PROOFS",
    "BundleReport",
    "bundle_verifier",
    "evidence_files",
    "verify_bundle",
]

EVENTS = "events.jsonl"
PROOFS = "proofs.json"
CHECKPOINT = "checkpoint.txt"
KEY = "verifier-key.txt"
EVIDENCE_FILES = (EVENTS, PROOFS, CHECKPOINT, KEY)
"""The files :func:`verify_bundle` reads; everything else in a bundle is for reading."""


@dataclass(frozen=True, slots=True)
class BundleReport:
    """What a verified bundle proves: these seqs are in this signed checkpoint."""

    checkpoint: Checkpoint
    seqs: tuple[int, ...]


def evidence_files(
    events: Sequence[Event], proofs: Sequence[InclusionProof], checkpoint_note: str, key: str
) -> dict[str, bytes]:
    """The evidence part of a bundle: events, proofs, checkpoint and key, as file bytes.

    Raises:
        ProofInvalid: the proofs are not one per event, in order, at one tree size.
    """
    if [p.seq for p in proofs] != [e.seq for e in events]:
        raise ProofInvalid("bundle: the proofs are not one per event, in seq order")
    if len({p.tree_size for p in proofs}) > 1:
        raise ProofInvalid("bundle: the proofs are not all against one tree size")
    document = {
        "tree_size": proofs[0].tree_size if proofs else 0,
        "root_hash": proofs[0].root_hash.hex() if proofs else "",
        "proofs": [p.to_json() for p in proofs],
    }
    return {
        EVENTS: b"".join(export_line(e) + b"\n" for e in events),
        PROOFS: orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n",
        CHECKPOINT: checkpoint_note.encode("utf-8"),
        KEY: key.strip().encode("utf-8") + b"\n",
    }


def bundle_verifier(files: Mapping[str, bytes]) -> Verifier:
    """The key the bundle carries (``verifier-key.txt``).

    Checking a bundle with its own key proves only that it is self-consistent:
    whoever made the bundle could have made the key. Pin the key you trust.

    Raises:
        BadRequest: the file is missing; CheckpointInvalid: it is not a key.
    """
    try:
        return parse_verifier_key(_text(files, KEY))
    except CheckpointInvalid as exc:
        raise CheckpointInvalid(f"{KEY}: {exc.message}") from None


def verify_bundle(files: Mapping[str, bytes], verifier: Verifier) -> BundleReport:
    """Check a bundle offline against the ledger key ``verifier``.

    In order: the checkpoint is signed by ``verifier``; each line of
    ``events.jsonl`` is a canonical exported event whose ``hash`` is the
    SHA-256 of its content, in increasing seq order, within the checkpoint;
    each event has an inclusion proof leading from its own leaf hash to the
    signed root at the signed size (RFC 9162 section 2.1.3.2); no proof is
    left over; and there is at least one event.

    Raises:
        BadRequest: a file is missing or not UTF-8.
        CheckpointInvalid: the checkpoint is malformed or not signed by ``verifier``.
        ProofInvalid: an event, a proof or the proofs file is wrong, or
            there are no events; the message names the file, line and seq
            of the first failure.
    """
    try:
        checkpoint = verify_checkpoint(_text(files, CHECKPOINT), verifier)
    except CheckpointInvalid as exc:
        raise CheckpointInvalid(f"{CHECKPOINT}: {exc.message}") from None
    proofs = _proofs(files)
    events = _events(files, checkpoint)
    if not events:  # fail closed: "ok" must never mean "nothing was checked"
        raise ProofInvalid(f"{EVENTS}: no events; an empty bundle proves nothing")
    for number, event in events:
        proof = proofs.pop(event.seq, None)
        if proof is None:
            raise ProofInvalid(f"{PROOFS}: no inclusion proof for seq {event.seq}")
        _check_proof(event, proof, checkpoint, number)
    if proofs:
        raise ProofInvalid(f"{PROOFS}: a proof for seq {min(proofs)}, which is not in {EVENTS}")
    return BundleReport(checkpoint, tuple(e.seq for _, e in events))


def _text(files: Mapping[str, bytes], name: str) -> str:
    raw = files.get(name)
    if raw is None:
        raise BadRequest(f"bundle: {name} is missing")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(f"bundle: {name} is not UTF-8 text") from None


def _proofs(files: Mapping[str, bytes]) -> dict[int, InclusionProof]:
    try:
        document = orjson.loads(_text(files, PROOFS))
    except orjson.JSONDecodeError:
        raise ProofInvalid(f"{PROOFS}: not JSON") from None
    items = document.get("proofs") if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise ProofInvalid(f"{PROOFS}: expected an object with a list of proofs")
    out: dict[int, InclusionProof] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ProofInvalid(f"{PROOFS}: proofs[{index}] is not an object")
        try:
            proof = InclusionProof.from_json(item)
        except ProofInvalid as exc:
            raise ProofInvalid(f"{PROOFS}: proofs[{index}]: {exc.message}") from None
        if proof.seq in out:
            raise ProofInvalid(f"{PROOFS}: two proofs for seq {proof.seq}")
        out[proof.seq] = proof
    return out


def _events(files: Mapping[str, bytes], checkpoint: Checkpoint) -> list[tuple[int, Event]]:
    text = _text(files, EVENTS)
    events: list[tuple[int, Event]] = []
    for number, line in enumerate(text.split("\n")[:-1] if text else [], start=1):
        where = f"{EVENTS} line {number}"
        try:
            event = parse_export_line(line.encode("utf-8"))
        except ValueError as exc:
            raise ProofInvalid(f"{where}: {exc}") from None
        # The hash the event claims must be that of its content: the same rule
        # as the chain check, so an edited line is named here, before its proof.
        if hashlib.sha256(event.body).hexdigest() != event.hash:
            raise ProofInvalid(
                f"{where}: event seq {event.seq}: its hash does not match its content"
            )
        if events and event.seq <= events[-1][1].seq:
            raise ProofInvalid(f"{where}: seq {event.seq} is not after seq {events[-1][1].seq}")
        if event.seq > checkpoint.size:
            raise ProofInvalid(
                f"{where}: seq {event.seq} is beyond the checkpoint's tree size {checkpoint.size}"
            )
        events.append((number, event))
    if text and not text.endswith("\n"):
        raise ProofInvalid(f"{EVENTS}: the last line has no newline (truncated?)")
    return events


def _check_proof(event: Event, proof: InclusionProof, checkpoint: Checkpoint, number: int) -> None:
    where = f"{PROOFS}: seq {event.seq}"
    if proof.tree_size != checkpoint.size:
        raise ProofInvalid(
            f"{where}: the proof is for tree size {proof.tree_size}, "
            f"the checkpoint for {checkpoint.size}"
        )
    leaf = leaf_hash(event.body)  # RFC 9162 2.1.1: computed from the event, not trusted
    if proof.leaf_hash != leaf:
        raise ProofInvalid(f"{where}: the proof's leaf hash is not that of {EVENTS} line {number}")
    try:
        verify_inclusion(leaf, proof.leaf_index, checkpoint.size, proof.path, checkpoint.root_hash)
    except ProofInvalid as exc:
        raise ProofInvalid(
            f"{where}: not included in the signed checkpoint: {exc.message}"
        ) from None
