"""Audit bundles on disk: a directory, and optionally a zip of it.

The zip is reproducible (sorted members, a fixed timestamp, fixed
permissions), so two bundles of the same ledger state are byte-identical and
an auditor can compare digests instead of contents.
"""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path

from ledger.errors import BadRequest
from ledger.exports.bundle import EVIDENCE_FILES

__all__ = ["read_bundle", "write_bundle_dir", "write_bundle_zip"]

_EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold
_MAX_MEMBER = 1 << 30  # refuse to inflate a single member past 1 GiB


def write_bundle_dir(out: Path, files: Mapping[str, bytes]) -> None:
    """Write ``files`` into a new or empty directory ``out``.

    Raises:
        BadRequest: ``out`` exists and is not an empty directory (a bundle
            never mixes with stale files of another).
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadRequest(f"--out: {out} exists and is not an empty directory", field="out")
    out.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        (out / name).write_bytes(content)


def write_bundle_zip(path: Path, root: str, files: Mapping[str, bytes]) -> None:
    """Write ``files`` as ``root/<name>`` members of a reproducible zip at ``path``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(files):
            info = zipfile.ZipInfo(f"{root}/{name}", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, files[name])


def read_bundle(path: Path) -> dict[str, bytes]:
    """The evidence files of a bundle directory or zip (missing ones are left out).

    A zip may hold the files at its top level or inside one directory.

    Raises:
        BadRequest: not a directory nor a readable zip, or a member too large.
    """
    if path.is_dir():
        return {n: (path / n).read_bytes() for n in EVIDENCE_FILES if (path / n).is_file()}
    try:
        with zipfile.ZipFile(path) as archive:
            members = {info.filename: info for info in archive.infolist() if not info.is_dir()}
            tops = {name.partition("/")[0] for name in members if "/" in name}
            prefix = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in members) else ""
            out: dict[str, bytes] = {}
            for name in EVIDENCE_FILES:
                info = members.get(prefix + name)
                if info is None:
                    continue
                if info.file_size > _MAX_MEMBER:
                    raise BadRequest(f"{path}: {name} is larger than {_MAX_MEMBER} bytes")
                out[name] = archive.read(info)
            return out
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadRequest(f"{path}: not a bundle directory or zip ({exc})") from None
