"""Every error code has its anchor in docs/errors.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledger import errors

DOC = (Path(__file__).resolve().parent.parent / "docs" / "errors.md").read_text()
CODES = sorted(
    {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.LedgerError)
    }
)


@pytest.mark.parametrize("code", CODES)
def test_every_error_code_is_documented(code: str) -> None:
    assert f"\n## {code}\n" in DOC
    assert f"(#{code})" in DOC


def test_error_codes_are_unique() -> None:
    classes = [
        cls
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.LedgerError)
    ]
    assert len({cls.code for cls in classes}) == len(classes)
