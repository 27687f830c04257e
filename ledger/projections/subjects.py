"""Which kind of subject each registry event type is about.

A handler writes the documents its subject names (``dataset.version.registered``
writes ``dataset:<d>@<v>``, the rollout handlers ``deployment:<m>/<env>``), so
a type on a subject of another kind would write a document of its shape under
a key another type owns: a ``dataset.version.registered`` on ``policy:strict``
read the policy document as a dataset and failed. The registry therefore
projects a type only on the subjects of :data:`SUBJECT_KINDS` (the shipped
catalogue's ``x-ledger.subject_kind`` for the same types, which
tests/projections/test_subject_kinds.py keeps equal), and a projecting ledger
refuses any other draft of these types (:func:`subject_error`), with or without
a catalogue. Events already in a log on another subject (from a writer that
did not project) project to nothing, so catch-up and rebuild never fail on
them. Types not listed (``policy.denied``, lineage, unknown types) fit any
subject.
"""

from __future__ import annotations

from ledger.errors import InvalidEvent
from ledger.refs import EntityRef, parse_ref

__all__ = ["ANY_SUBJECT", "SUBJECT_KINDS", "fits", "misfit", "subject_error"]

ANY_SUBJECT = "any"
"""The subject kind that accepts any well-formed entity reference."""

SUBJECT_KINDS: dict[str, str] = {
    "model.registered": "model",
    "model.retired": "model",
    "retraining.triggered": "model",
    "model.version.registered": "model@version",
    "test.result.recorded": "model@version",
    "approval.granted": "model@version",
    "approval.revoked": "model@version",
    "deployment.decided": "model@version",
    "dataset.version.registered": "dataset@version",
    "policy.defined": "policy",
    "incident.opened": "incident",
    "incident.resolved": "incident",
    "review.recorded": "incident",
    "rollout.stage.changed": "deployment",
    "rollback.executed": "deployment",
    "rollback.verified": "deployment",
    "alert.raised": "deployment",
    "alert.resolved": "deployment",
}
"""Event type -> ``kind`` (no version), ``kind@version`` (a version required)."""


_PARSED: dict[str, tuple[str, bool]] = {
    type: (kind.partition("@")[0], kind.endswith("@version"))
    for type, kind in SUBJECT_KINDS.items()
}


def fits(event_type: str, ref: EntityRef) -> bool:
    """Whether the registry projects ``event_type`` on a subject parsed as ``ref``."""
    expected = _PARSED.get(event_type)
    if expected is None:
        return True
    return ref.kind == expected[0] and (ref.version is not None) == expected[1]


def misfit(event_type: str, subject: str) -> InvalidEvent | None:
    """:func:`subject_error` for a subject already known to parse, cheaply when it fits."""
    if event_type not in _PARSED or fits(event_type, parse_ref(subject)):
        return None
    return subject_error(event_type, subject)


def subject_error(
    event_type: str, subject: str, expected: str | None = None
) -> InvalidEvent | None:
    """Why ``subject`` does not fit ``event_type`` (``field="subject"``), or None if it does.

    ``expected`` is a catalogue's ``subject_kind`` for the type (``kind``,
    ``kind@version`` or ``any``); by default the registry's own
    (:data:`SUBJECT_KINDS`). The catalogue words its refusals with this too.

    Raises:
        InvalidEvent: ``subject`` is not an entity reference.
    """
    expected = SUBJECT_KINDS.get(event_type) if expected is None else expected
    ref = parse_ref(subject, field="subject")
    if expected is None or expected == ANY_SUBJECT:
        return None
    kind, _, versioned = expected.partition("@")
    if ref.kind != kind:
        return InvalidEvent(
            f"subject: {event_type} is about a {kind!r}, not a {ref.kind!r} ({subject!r})",
            field="subject",
        )
    if versioned and ref.version is None:
        return InvalidEvent(
            f"subject: {event_type} needs a versioned reference '{kind}:name@version', "
            f"got {subject!r}",
            field="subject",
        )
    if not versioned and ref.version is not None:
        return InvalidEvent(
            f"subject: {event_type} is about the {kind} itself, not a version; "
            f"use '{ref.kind}:{ref.name}' instead of {subject!r}",
            field="subject",
        )
    return None
