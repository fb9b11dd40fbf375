"""Text from traffic, config and state, made inert and short before any page shows it.

Why: a model, project, budget or source name is whatever a client or a config wrote.
`![x](http://host/beacon.png)` in `st.markdown` (and `st.caption`, `st.warning`, labels...) made
the browser fetch the beacon, a bare URL became a link, and plotly renders `<a href>` in legends
and ticks. Every such value goes through `md` (markdown) or `plot` (plotly) here, one helper
each, and is shortened (a 1 MB name is not a legend entry).

Example:
    >>> print(md("![x](http://host/b.png) *a*").replace(JOINER, "+"))
    !\\[x\\](http:+//host/b.png) \\*a\\*
"""

from __future__ import annotations

import hashlib
import html
import re

from foundation.names import CONTROL

MAX_CHARS = 48
"""Longest name shown in charts, tables and messages; Explore and downloads keep full names."""
_MARKUP = re.compile(r"([\\`*_~\[\]<>#|$])")
"""Characters that start markdown, HTML, LaTeX (`$`) or Streamlit's `:color[...]` (CommonMark lets each
be backslash-escaped). Others (`.`, `:`, `-`, quotes) stay, so messages read as written."""
_LIST_START = re.compile(r"^([-+]|\d+[.)])")
_AUTOLINK = re.compile(r"(://|@)|(www)(?=\.)", re.IGNORECASE)
JOINER = "\u2060"
"""A zero-width word joiner: Streamlit finds bare URLs, `www.` and e-mail addresses in the text
*after* escapes are resolved, so a joiner goes inside each `://`, after each `@` and after `www`."""


def short(value: object, limit: int = MAX_CHARS) -> str:
    """One line of at most `limit` characters; a cut name ends in a hash, so two long names stay two."""
    text = CONTROL.sub(" ", str(value))
    if len(text) <= limit:
        return text
    digest = hashlib.sha256(str(value).encode("utf-8", "surrogatepass")).hexdigest()[:6]
    return f"{text[: limit - 8]}…#{digest}"


def md(value: object, limit: int = MAX_CHARS) -> str:
    """`value` shortened and escaped so Streamlit markdown shows it as plain text, never as a link."""
    text = _MARKUP.sub(r"\\\1", short(value, limit))
    text = _LIST_START.sub(lambda m: m.group(1)[:-1] + "\\" + m.group(1)[-1], text)
    return _AUTOLINK.sub(_join, text)


def _join(match: re.Match[str]) -> str:
    if match.group(1):
        return match.group(1)[0] + JOINER + match.group(1)[1:]
    return match.group(2) + JOINER


def plot(value: object, limit: int = MAX_CHARS) -> str:
    """`value` shortened and HTML-escaped for plotly labels (legend, ticks, hover), which render tags."""
    return html.escape(short(value, limit), quote=False)
