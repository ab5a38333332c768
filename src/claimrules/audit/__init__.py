"""Audit past decisions made by people against the policy: where they agree, where they do not, and why.

Input: a JSONL history (one past claim per line, see ``history.HistoryRecord`` and docs/audit.md).
Output: an ``AuditReport`` (JSON-ready), rendered as a terminal summary or an HTML report with charts.
"""

from __future__ import annotations

from claimrules.audit.history import HistoryRecord, read_history
from claimrules.audit.report import AuditReport, audit

__all__ = ["AuditReport", "HistoryRecord", "audit", "read_history"]
