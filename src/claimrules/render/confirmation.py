"""The customer's written confirmation of a recorded exception (RT 3.1: "confirmed to the customer in
writing"): what was granted, by whom, until when, and the clause that says so, quoted."""

from __future__ import annotations

from datetime import date
from typing import Any

import jinja2

from claimrules.render.letter import long_date

FORMATS = ("txt", "md", "html")

_TEXT = """\
{{ title }}

Claim: {{ claim_id }}
Recorded: {{ recorded }} by staff member {{ item.grantor_id }} ({{ item.grantor_role }}), granted on {{ granted_on }}.

{{ body }}

{{ authority.clause }} {{ authority.clause_title }}:
  "{{ authority.clause_text }}"

Record #{{ seq }} in the claim ledger ({{ hash[:16] }}).
"""

_MARKDOWN = """\
# {{ title }}

- **Claim:** {{ claim_id }}
- **Recorded:** {{ recorded }} by staff member {{ item.grantor_id }} ({{ item.grantor_role }}), granted on {{ granted_on }}

{{ body }}

> **{{ authority.clause }} {{ authority.clause_title }}:** {{ authority.clause_text }}

Record #{{ seq }} in the claim ledger (`{{ hash[:16] }}`).
"""

_HTML = """\
<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{{ title }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;color:#1a1a1a;line-height:1.5}
blockquote{border-left:4px solid #3b5b92;margin:1rem 0;padding:.25rem 1rem;background:#f3f5fa}</style></head>
<body><main>
<h1>{{ title }}</h1>
<p><strong>Claim:</strong> {{ claim_id }}<br><strong>Recorded:</strong> {{ recorded }} by staff member
{{ item.grantor_id }} ({{ item.grantor_role }}), granted on {{ granted_on }}</p>
<p>{{ body }}</p>
<blockquote><strong>{{ authority.clause }} {{ authority.clause_title }}:</strong> {{ authority.clause_text }}</blockquote>
<p><small>Record #{{ seq }} in the claim ledger ({{ hash[:16] }}).</small></p>
</main></body></html>
"""


def _day(value: str | None) -> str:
    return long_date(date.fromisoformat(value)) if value else ""


def render_confirmation(claim_id: str, seq: int, hash: str, at: str, body: dict[str, Any], *, format: str = "txt") -> str:
    """The confirmation letter of one exception record (its ledger body)."""
    if format not in FORMATS:
        raise ValueError(f"format {format!r} is not one of {', '.join(FORMATS)}")
    item, authority = body["item"], body["authority"]
    asked, effective = _day(authority["asked_end"]), _day(authority["effective_end"])
    if authority["status"] == "granted":
        title = "Your return window has been extended"
        text = f"Your return window now ends on {effective}. You may return the product until that day."
    elif authority["status"] == "capped":
        title = "Your return window has been extended (limited)"
        text = (f"An extension to {asked} was asked for, but the staff member's authority allows it only to "
                f"{effective}. Your return window now ends on {effective}.")
    else:
        title = "Your return window could not be extended"
        text = f"An extension to {asked} was asked for, but it cannot be granted. Your return window is unchanged."
    environment = jinja2.Environment(autoescape=format == "html", keep_trailing_newline=True,
                                     undefined=jinja2.StrictUndefined)
    template = environment.from_string({"txt": _TEXT, "md": _MARKDOWN, "html": _HTML}[format])
    return template.render(title=title, body=text, claim_id=claim_id, item=item, authority=authority,
                           granted_on=_day(item["granted_on"]), recorded=at[:10], seq=seq, hash=hash)
