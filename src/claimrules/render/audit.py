"""The audit report as a terminal summary and as one self-contained HTML page with inline SVG charts
(no script, no stylesheet or font from elsewhere)."""

from __future__ import annotations

from html import escape
from typing import Any

SHOWN = 100  # rows shown per table in the HTML (the JSON has them all)


def audit_text(report: dict[str, Any]) -> str:
    decided = report["records"] - len(report["invalid"])
    lines = [
        f"Audit of {report['records']} past decision(s) against policy {report['policy'][:12]} "
        f"({report['distinct_facts']} distinct claim(s) decided)",
        f"Agreement: {report['agreed']}/{decided} = {report['agreement_rate'] * 100:.2f}%",
        f"Disagreements: {len(report['disagreements'])} (wrongly refused {len(report['wrongly_refused'])}, "
        f"wrongly approved {len(report['wrongly_approved'])})",
    ]
    if report["invalid"]:
        lines.append(f"Invalid records (not decided): {len(report['invalid'])}")

    def top(title: str, counts: dict[str, int], limit: int = 8) -> None:
        if counts:
            lines.append(f"{title}:")
            lines.extend(f"  {name:<28} {count}" for name, count in list(counts.items())[:limit])

    top("By the policy's deciding clause", report["disagreements_by_clause"])
    top("By outcome (person -> policy)", report["disagreements_by_outcome"])
    top("By agent (disagreements)", {name: row["disagreements"] for name, row in report["by_agent"].items()
                                     if row["disagreements"]})
    top("By team (disagreements)", {name: row["disagreements"] for name, row in report["by_team"].items()
                                    if row["disagreements"]})
    lines.append(f"Reasons no clause supports: {len(report['unsupported_reasons'])}")
    lines.append(f"Identical facts, different outcomes: {len(report['identical_facts_different_outcomes'])} group(s)")
    for group in report["identical_facts_different_outcomes"][:5]:
        lines.append(f"  {', '.join(group['claims'][:6])}: people said {' / '.join(group['human_outcomes'])}, "
                     f"the policy says {group['policy_outcome']}")
    return "\n".join(lines) + "\n"


def _bars(title: str, counts: dict[str, int], colour: str) -> str:
    """A horizontal bar chart as inline SVG."""
    items = list(counts.items())[:12]
    if not items:
        return f"<figure><figcaption>{escape(title)}</figcaption><p>None.</p></figure>"
    width, label_width, bar_height, gap = 640, 220, 22, 6
    height = len(items) * (bar_height + gap) + gap
    largest = max(count for _, count in items) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
             f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for index, (name, count) in enumerate(items):
        y = gap + index * (bar_height + gap)
        length = round((width - label_width - 60) * count / largest)
        parts.append(f'<text x="{label_width - 8}" y="{y + 16}" text-anchor="end" font-size="13" fill="#1a1a1a">'
                     f"{escape(name[:32])}</text>")
        parts.append(f'<rect class="bar" x="{label_width}" y="{y}" width="{max(length, 1)}" height="{bar_height}" '
                     f'fill="{colour}"><title>{escape(name)}: {count}</title></rect>')
        parts.append(f'<text x="{label_width + max(length, 1) + 6}" y="{y + 16}" font-size="13" fill="#1a1a1a">{count}</text>')
    parts.append("</svg>")
    return f"<figure><figcaption>{escape(title)}</figcaption>{''.join(parts)}</figure>"


def _table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]], table_id: str) -> str:
    head = "".join(f"<th scope=\"col\">{escape(label)}</th>" for _, label in columns)
    body = []
    for row in rows[:SHOWN]:
        cells = []
        for key, _ in columns:
            value = row.get(key)
            cells.append(f"<td>{escape(', '.join(value) if isinstance(value, list) else '' if value is None else str(value))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    more = f"<p>{len(rows) - SHOWN} more in the JSON report.</p>" if len(rows) > SHOWN else ""
    empty = "<p>None.</p>" if not rows else ""
    return (f'<section id="{table_id}"><h2>{escape(title)} ({len(rows)})</h2>{empty}'
            + (f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>" if rows else "")
            + more + "</section>")


def audit_html(report: dict[str, Any]) -> str:
    rate = report["agreement_rate"] * 100
    agent_rates = {name: row["disagreements"] for name, row in report["by_agent"].items() if row["disagreements"]}
    team_rates = {name: row["disagreements"] for name, row in report["by_team"].items() if row["disagreements"]}
    disagreement_columns = [("line", "Line"), ("claim_id", "Claim"), ("agent", "Agent"), ("team", "Team"),
                            ("human_outcome", "Person"), ("human_clause", "Person's clause"),
                            ("policy_outcome", "Policy"), ("grounds", "Policy's clauses")]
    groups = [{"claims": group["claims"][:8], "human_outcomes": group["human_outcomes"],
               "policy_outcome": group["policy_outcome"]} for group in report["identical_facts_different_outcomes"]]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Decision audit</title>
<style>
body{{font-family:system-ui,sans-serif;color:#1a1a1a;background:#fff;max-width:72rem;margin:1.5rem auto;padding:0 1rem;line-height:1.45}}
.figures{{display:flex;gap:1.5rem;flex-wrap:wrap}} .figure{{border:1px solid #c8ccd4;border-radius:6px;padding:.75rem 1rem}}
.figure strong{{display:block;font-size:1.8rem}} figure{{margin:1rem 0}} figcaption{{font-weight:600;margin-bottom:.25rem}}
table{{border-collapse:collapse;width:100%;font-size:.9rem}} th,td{{border:1px solid #c8ccd4;padding:.25rem .5rem;text-align:left}}
th{{background:#eef1f6}}
</style></head><body><main>
<h1>Decision audit</h1>
<p>Policy {escape(report['policy'][:16])}: {report['records']} past decisions, {report['distinct_facts']} distinct claims decided again.</p>
<div class="figures">
<div class="figure" id="agreement"><strong>{rate:.2f}%</strong>agreement ({report['agreed']} of {report['records'] - len(report['invalid'])})</div>
<div class="figure"><strong>{len(report['disagreements'])}</strong>disagreements</div>
<div class="figure"><strong>{len(report['wrongly_refused'])}</strong>wrongly refused</div>
<div class="figure"><strong>{len(report['wrongly_approved'])}</strong>wrongly approved</div>
<div class="figure"><strong>{len(report['unsupported_reasons'])}</strong>reasons no clause supports</div>
</div>
{_bars("Disagreements by the policy's deciding clause", report['disagreements_by_clause'], "#3b5b92")}
{_bars("Disagreements by outcome (person -> policy)", report['disagreements_by_outcome'], "#8a4b08")}
{_bars("Disagreements by agent", agent_rates, "#2f6b3a")}
{_bars("Disagreements by team", team_rates, "#6b2f5f")}
{_table("Wrongly refused", report['wrongly_refused'], disagreement_columns, "wrongly-refused")}
{_table("Wrongly approved", report['wrongly_approved'], disagreement_columns, "wrongly-approved")}
{_table("Reasons no clause supports", report['unsupported_reasons'],
        [("line", "Line"), ("claim_id", "Claim"), ("clause", "Clause given"), ("reason", "Reason given"), ("why", "Why")],
        "unsupported")}
{_table("Identical facts, different outcomes", groups,
        [("claims", "Claims"), ("human_outcomes", "People decided"), ("policy_outcome", "Policy")], "identical")}
</main></body></html>
"""
