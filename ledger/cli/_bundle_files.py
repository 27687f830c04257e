"""Audit bundles on disk: a directory, and optionally a zip of it.

The zip is reproducible (sorted members, a fixed timestamp, fixed
permissions), so two bundles of the same ledger state are byte-identical and
an auditor can compare digests instead of contents.
"""

from __future__ import annotations

import zipfile
import zlib
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

    A zip may hold the files at its top level or inside one directory. Nothing
    is extracted: members are read into memory by name, so no member name can
    write anywhere. A directory's evidence files must be regular files, not
    symlinks, so a crafted bundle cannot make the verifier read (and quote in
    an error) a file outside it.

    Raises:
        BadRequest: not a directory nor a readable zip; an evidence file that
            is a symlink, appears twice in the zip, is encrypted, compressed
            in a way zipfile cannot read, corrupt, or too large.
    """
    if path.is_dir():
        return _read_dir(path)
    try:
        with zipfile.ZipFile(path) as archive:
            return _read_zip(path, archive)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BadRequest(f"{path}: not a bundle directory or zip ({exc})") from None


def _read_dir(path: Path) -> dict[str, bytes]:
    out: dict[str, bytes] = {}
    for name in EVIDENCE_FILES:
        member = path / name
        if member.is_symlink():
            raise BadRequest(f"{path}: {name} is a symlink; a bundle holds its files itself")
        if not member.is_file():
            continue
        try:
            out[name] = member.read_bytes()
        except OSError as exc:
            raise BadRequest(f"{path}: cannot read {name} ({exc.strerror})") from None
    return out


def _read_zip(path: Path, archive: zipfile.ZipFile) -> dict[str, bytes]:
    infos = [info for info in archive.infolist() if not info.is_dir()]
    members = {info.filename: info for info in infos}
    tops = {name.partition("/")[0] for name in members if "/" in name}
    prefix = f"{tops.pop()}/" if len(tops) == 1 and all("/" in n for n in members) else ""
    out: dict[str, bytes] = {}
    for name in EVIDENCE_FILES:
        info = members.get(prefix + name)
        if info is None:
            continue
        # Two members of one name: tools disagree on which one counts (unzip
        # takes the last, some viewers the first), so the evidence is ambiguous.
        if sum(1 for i in infos if i.filename == info.filename) > 1:
            raise BadRequest(f"{path}: {name} appears more than once in the zip")
        if info.file_size > _MAX_MEMBER:
            raise BadRequest(f"{path}: {name} is larger than {_MAX_MEMBER} bytes")
        try:
            out[name] = archive.read(info)
        # Encrypted, an unknown compression method, or corrupt data (bad CRC).
        except (RuntimeError, NotImplementedError, zlib.error, EOFError, zipfile.BadZipFile) as exc:
            raise BadRequest(f"{path}: cannot read {name} from the zip ({exc})") from None
    return out
