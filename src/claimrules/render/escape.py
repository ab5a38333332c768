"""Text from a claim or a policy made safe for the format it is written into.

One place for every escaping rule the letter and documentation templates use (HTML is escaped by
Jinja's autoescaping):

* :func:`clean_text` — what no format should pass on: terminal escape sequences (ESC ``[`` ...,
  OSC ``ESC ]`` ... BEL), other C0/C1 control characters, and the Unicode bidirectional controls
  that make text display in another order than it reads (U+202A-202E, U+2066-2069, U+200E/200F,
  U+061C). Newlines and tabs are kept for the caller to decide.
* :func:`markdown_inline` — a value inside a line of Markdown: cleaned, on one line (a newline in a
  claim's description cannot start a heading, a rule, a list or a quote), every character Markdown
  gives a meaning inline backslash-escaped, and a value that starts with a block marker (``-``,
  ``+``, ``=``, ``1.``) escaped at its start.
* :func:`plain_text` — a value of a plain-text letter: cleaned, newlines kept (wrapped paragraphs).
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["clean_text", "markdown_inline", "plain_text"]

_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC ... BEL or ST (hyperlinks, window titles)
    r"|\x1b\[[0-?]*[ -/]*[@-~]?"  # CSI ... final byte (colours, cursor movement, erasing)
    r"|\x9b[0-?]*[ -/]*[@-~]?"  # the 8-bit CSI
    r"|\x1b[@-_]?"  # any other escape
)
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]<>&#|!~])")
_BLOCK_START = re.compile(r"^(\d{1,9})([.)])|^([-+=>])")


def clean_text(value: Any) -> str:
    """``value`` as text without escape sequences, control characters (but newline and tab) or
    bidirectional controls."""
    text = str(value)
    if text.isprintable():
        return text
    return _CONTROL.sub("", _ESCAPE_SEQUENCE.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))


def markdown_inline(value: Any) -> str:
    """Text safe inside a line of Markdown (CommonMark backslash escapes keep it readable:
    ``<script>`` becomes ``\\<script\\>``)."""
    text = " ".join(clean_text(value).split())
    text = _MARKDOWN_INLINE.sub(r"\\\1", text)
    return _BLOCK_START.sub(lambda match: f"{match.group(1)}\\{match.group(2)}" if match.group(1)
                            else f"\\{match.group(3)}", text, count=1)


def plain_text(value: Any) -> str:
    """Text safe in a plain-text letter shown on a terminal."""
    return clean_text(value)
