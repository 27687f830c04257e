"""Entity references: ``kind:name`` or ``kind:name@version``.

Examples: ``model:fraud-detector``, ``model:fraud-detector@1.4.0``,
``dataset:transactions@2026-11-01``, ``deployment:fraud-detector/prod``,
``dataset:s3://lake/transactions``. The kind is the text before the first
``:``; the version is the text after the last ``@`` in the name, if any.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ledger.errors import InvalidEvent

__all__ = ["MAX_REF_LENGTH", "EntityRef", "parse_ref"]

MAX_REF_LENGTH = 512
_KIND = re.compile(r"[a-z][a-z0-9_-]{0,63}")
# Names are free text for the producer (paths, URIs, slugs) but never hold
# whitespace or control characters, so a ref is always one token in a log line.
_NAME = re.compile(r"[^\s\x00-\x1f\x7f]+")


@dataclass(frozen=True, slots=True)
class EntityRef:
    """A parsed entity reference."""

    kind: str
    name: str
    version: str | None = None

    def __str__(self) -> str:
        base = f"{self.kind}:{self.name}"
        return base if self.version is None else f"{base}@{self.version}"

    @property
    def unversioned(self) -> EntityRef:
        """The same entity without its version (``model:x@1`` -> ``model:x``)."""
        return EntityRef(self.kind, self.name)


def parse_ref(text: str, *, field: str = "subject") -> EntityRef:
    """Parse ``kind:name[@version]`` (cached: projections parse the same refs again and again).

    Raises:
        InvalidEvent: the text is not a well-formed reference; ``field`` names
            the input field it came from.
    """
    if not isinstance(text, str):
        raise InvalidEvent(f"{field}: expected an entity reference 'kind:name'", field=field)
    return _parse(text, field)


@lru_cache(maxsize=65_536)
def _parse(text: str, field: str) -> EntityRef:
    if not isinstance(text, str) or not text:
        raise InvalidEvent(f"{field}: expected an entity reference 'kind:name'", field=field)
    if len(text) > MAX_REF_LENGTH:
        raise InvalidEvent(f"{field}: longer than {MAX_REF_LENGTH} characters", field=field)
    kind, sep, rest = text.partition(":")
    if not sep or not _KIND.fullmatch(kind):
        raise InvalidEvent(
            f"{field}: {text!r} is not 'kind:name[@version]' (kind is lowercase, e.g. model)",
            field=field,
        )
    name, at, version = rest.rpartition("@")
    if not at:
        name, version_opt = rest, None
    else:
        version_opt = version
    if not name or not _NAME.fullmatch(name) or (at and not _NAME.fullmatch(version)):
        raise InvalidEvent(
            f"{field}: {text!r} has an empty name or version, or whitespace in it", field=field
        )
    return EntityRef(kind, name, version_opt)
