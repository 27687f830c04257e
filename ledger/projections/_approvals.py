"""Which approvals of a version are in force, and which roles they cover.

Used by the policy check and useful to any reader that shows "approvals in
force": an approval counts for one environment while it is not revoked, not
expired and, when the policy says so, not given by the version's author.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledger.projections._json import dict_list, get_bool, get_str

__all__ = ["ActiveApprovals", "active_approvals", "uncovered_roles"]


@dataclass(frozen=True, slots=True)
class ActiveApprovals:
    """Approvals in force, as (actor, role) in seq order, and why others were ignored."""

    approvals: list[tuple[str, str]] = field(default_factory=list)
    ignored: dict[str, int] = field(default_factory=dict)

    @property
    def people(self) -> list[str]:
        """Distinct approving actors, in order of their first approval."""
        return list(dict.fromkeys(actor for actor, _ in self.approvals))


def active_approvals(
    version_doc: Mapping[str, object] | None, environment: str, now: str, *, exclude_author: bool
) -> ActiveApprovals:
    """The approvals of a version doc that count for ``environment`` at ``now``."""
    if version_doc is None:
        return ActiveApprovals()
    author = get_str(version_doc, "author")
    result = ActiveApprovals()
    for approval in dict_list(version_doc.get("approvals")):
        if get_str(approval, "environment") != environment:
            continue
        actor, role = get_str(approval, "actor") or "", get_str(approval, "role") or ""
        expires = get_str(approval, "expires_at")
        reason = (
            "revoked"
            if get_bool(approval, "revoked")
            else "expired"
            if expires is not None and expires <= now
            else "by the author"
            if exclude_author and author is not None and actor == author
            else None
        )
        if reason is None:
            result.approvals.append((actor, role))
        else:
            result.ignored[reason] = result.ignored.get(reason, 0) + 1
    return result


def uncovered_roles(
    approvals: Sequence[tuple[str, str]], roles: Sequence[str], *, distinct_people: bool
) -> list[str]:
    """The roles in ``roles`` no approval covers.

    With ``distinct_people`` one person covers at most one role, so the roles
    are matched to people (augmenting paths, Kuhn's algorithm): alice approving
    both as ``ml_lead`` and ``model_risk`` covers only one of them.
    """
    by_role: dict[str, list[str]] = {role: [] for role in roles}
    for actor, role in approvals:
        if role in by_role and actor not in by_role[role]:
            by_role[role].append(actor)
    if not distinct_people:
        return [role for role in roles if not by_role[role]]
    holder: dict[str, str] = {}  # person -> role they cover

    def assign(role: str, seen: set[str]) -> bool:
        for person in by_role[role]:
            if person not in seen:
                seen.add(person)
                if person not in holder or assign(holder[person], seen):
                    holder[person] = role
                    return True
        return False

    covered = {role for role in roles if assign(role, set())}
    return [role for role in roles if role not in covered]
