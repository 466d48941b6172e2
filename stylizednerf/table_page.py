"""A Markdown table file as an HTML page, for the Snakemake report.

The report shows HTML results in its page but offers CSV and Markdown files only as downloads, so
the tables (the evaluation's, the per-job benchmarks) also go there as pages. This reads the
restricted Markdown that :mod:`stylizednerf.metrics.report` and :mod:`stylizednerf.benchmarks`
write: ``#`` headings, paragraphs with ``**bold**``, and pipe tables (header, separator, rows).
"""

import html
import re

STYLE = ("body{font-family:system-ui,sans-serif;margin:1em;color:#222}"
         "table{border-collapse:collapse;font-size:14px}"
         "th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}"
         "th:first-child,td:first-child{text-align:left}"
         "th{background:#f0f0f0}tr:nth-child(even) td{background:#fafafa}"
         "p{max-width:70em}")


def _inline(text: str) -> str:
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", html.escape(text))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def markdown_to_html(markdown: str, title: str = "") -> str:
    """The page: headings, paragraphs and tables in order; anything else as a paragraph."""
    body, table, paragraph = [], [], []

    def flush_paragraph():
        if paragraph:
            body.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()

    def flush_table():
        if table:
            head, rows = table[0], [r for r in table[1:] if not re.fullmatch(r"\|?[\s:|-]+\|?", r)]
            body.append("<table><thead><tr>" + "".join(f"<th>{_inline(c)}</th>" for c in _cells(head))
                        + "</tr></thead><tbody>"
                        + "".join("<tr>" + "".join(f"<td>{_inline(c)}</td>" for c in _cells(r)) + "</tr>"
                                  for r in rows) + "</tbody></table>")
            table.clear()

    for line in markdown.splitlines():
        if line.lstrip().startswith("|"):
            flush_paragraph()
            table.append(line)
            continue
        flush_table()
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        if heading:
            flush_paragraph()
            level = len(heading.group(1))
            body.append(f"<h{level}>{_inline(heading.group(2))}</h{level}>")
        elif line.strip():
            paragraph.append(line.strip())
        else:
            flush_paragraph()
    flush_table()
    flush_paragraph()
    title = html.escape(title or "table")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{STYLE}</style></head>\n<body>\n" + "\n".join(body) + "\n</body></html>\n")
