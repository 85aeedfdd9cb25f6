"""What both picture pages share: escaping, one self-contained HTML page, colours, a bar chart.

A page is one file with inline CSS and SVG: no script, nothing fetched, so it opens from disk and
shows the same with JavaScript off. Every text that comes from outside the kit (a submission's
name, what it printed, an exception message, a learner's sentence) goes through `text()` — HTML-escaped
with quotes, so it is safe between tags and inside a quoted attribute alike — and never into a
`<style>` or `<script>`, which this page does not have anyway. Used by `embedlab map` (learners) and
`embedlab grade`'s class report (instructors); it imports nothing of either.
"""

from __future__ import annotations

import html
from pathlib import Path

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2433;margin:24px auto;max-width:1100px;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
.note{color:#5a6478;font-size:13px}.small{font-size:12px}
table{border-collapse:collapse}th,td{padding:3px 8px;text-align:left;vertical-align:top}
th{font-weight:600;color:#38415a}tr.part th{background:#eef1f6;padding-top:6px}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
.pill{display:inline-block;border-radius:9px;padding:0 7px;font-size:12px}
.done{background:#d7f0dd}.failing{background:#fbe0d8}.notstarted{background:#eceef2}.waiting{background:#e3e8f7}.stopped{background:#f6e7b6}
ol.mistakes>li{margin:0 0 14px}blockquote{margin:4px 0;padding:4px 10px;border-left:3px solid #e29a82;background:#fbf3f0;white-space:pre-wrap;overflow-wrap:anywhere}
.who a{margin-right:6px}svg text{font-family:inherit}
.row{display:flex;gap:28px;flex-wrap:wrap;align-items:flex-start}
h3{font-size:15px;margin:16px 0 6px}details>summary{cursor:pointer;color:#38415a;margin:6px 0 10px}
"""


def text(value: object) -> str:
    """`value` as HTML text: `<`, `>`, `&` and both quotes escaped (never markup)."""
    return html.escape(str(value), quote=True)


def prose(value: object) -> str:
    """A sentence of the kit's as HTML text: escaped like `text`, and each `command in backticks`
    set as <code> (the terminal's backticks are not for a page)."""
    import re

    return re.sub(r"`([^`<>]+)`", r"<code>\1</code>", text(value))


def shorten(value: object, limit: int = 240) -> str:
    """A long message cut at `limit` characters, with an ellipsis (before escaping)."""
    flat = str(value).strip()
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


def page(title: str, body: str, style: str = "") -> str:
    """One self-contained page. `title` is escaped here; `body` is markup the caller built from
    escaped parts."""
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{text(title)}</title><style>{STYLE}{style}</style></head>\n<body>\n{body}\n</body></html>\n"
    )


def write(path: Path, markup: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markup, encoding="utf-8")
    return path


def number(value: float, digits: int = 3) -> str:
    """A plain decimal (never 1e-05), the minus sign as "-" so it reads back as a float."""
    shown = f"{value:.{digits}f}"
    return "0." + "0" * digits if shown.lstrip("-") == "0." + "0" * digits else shown


def diverging(value: float) -> str:
    """A colour for a cosine in [-1, 1]: white at 0, blue towards 1, red towards -1."""
    v = max(-1.0, min(1.0, float(value)))
    if v >= 0:
        r, g, b = 255 - 205 * v, 255 - 150 * v, 255 - 40 * v
    else:
        r, g, b = 255 + 25 * v, 255 + 160 * v, 255 + 170 * v
    return f"rgb({round(r)},{round(g)},{round(b)})"


def ink(value: float) -> str:
    """Text colour readable on `diverging(value)`."""
    return "#fff" if abs(value) > 0.6 else "#1d2433"


def bars(values: list[tuple[str, int]], *, width: int = 520, height: int = 170, label: str = "", colour: str = "#5b7bd5") -> str:
    """A vertical bar chart as inline SVG: one bar per (label, count), the count above each bar.

    Labels are the caller's (escaped here). Each bar carries `data-count` for reading back."""
    n = max(1, len(values))
    top = max((c for _, c in values), default=0) or 1
    pad_left, pad_bottom, pad_top = 8, 34, 18
    slot = (width - pad_left) / n
    plot = height - pad_bottom - pad_top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="{text(label)}">']
    for i, (name, count) in enumerate(values):
        h = plot * count / top
        x = pad_left + i * slot + slot * 0.1
        y = pad_top + plot - h
        parts.append(
            f'<g class="bar" data-label="{text(name)}" data-count="{count}"><rect x="{x:.1f}" y="{y:.1f}" width="{slot * 0.8:.1f}" '
            f'height="{max(h, 0.5):.1f}" fill="{colour}"><title>{text(name)}: {count}</title></rect>'
            f'<text x="{x + slot * 0.4:.1f}" y="{y - 4:.1f}" text-anchor="middle" font-size="11">{count}</text>'
            f'<text x="{x + slot * 0.4:.1f}" y="{height - pad_bottom + 14:.1f}" text-anchor="middle" font-size="10" fill="#5a6478">{text(name)}</text></g>'
        )
    parts.append(f'<line x1="{pad_left}" y1="{pad_top + plot:.1f}" x2="{width}" y2="{pad_top + plot:.1f}" stroke="#9aa3b5"/>')
    if label:
        parts.append(f'<text x="{width / 2:.0f}" y="{height - 4}" text-anchor="middle" font-size="11" fill="#38415a">{text(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)
