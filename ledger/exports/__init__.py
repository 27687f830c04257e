"""Exports for people and other tools: lineage graphs, PROV, audit bundles (pure, no I/O).

``ledger.exports.provenance`` is not imported here: it needs the ``prov``
package, which only the commands that write PROV should pay to import.
"""

from __future__ import annotations

from ledger.exports.bundle import BundleReport, bundle_verifier, evidence_files, verify_bundle
from ledger.exports.lineage_formats import GRAPH_FORMATS, render_lineage
from ledger.exports.scope import Scope, parse_scope, scope_subjects

__all__ = [
    "GRAPH_FORMATS",
    "BundleReport",
    "Scope",
    "bundle_verifier",
    "evidence_files",
    "parse_scope",
    "render_lineage",
    "scope_subjects",
    "verify_bundle",
]
