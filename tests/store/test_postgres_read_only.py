"""An up-to-date PostgreSQL ledger opens read-only (as on a replica) and serves reads."""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from ledger.service import Ledger
from ledger.store import open_store
from tests.helpers import draft


def test_a_read_only_connection_opens_an_up_to_date_ledger_and_verifies_it(pg_url: str) -> None:
    writer = open_store(pg_url)
    Ledger(writer).append([draft(n) for n in range(5)], "ci")
    writer.close()
    parts = urlsplit(pg_url)
    query = dict(parse_qsl(parts.query))
    query["options"] = f"{query.get('options', '')} -cdefault_transaction_read_only=on".strip()
    read_only = open_store(urlunsplit(parts._replace(query=urlencode(query, quote_via=quote))))
    try:
        ledger = Ledger(read_only)
        assert ledger.head().seq == 5
        assert ledger.verify().ok
        assert ledger.inclusion_proof(3).tree_size == 5
    finally:
        read_only.close()
