"""The human-readable API reference, rendered on the server from the OpenAPI document.

Why server-rendered: the page must work on a VPS without internet (no CDN) and under the
API's strict Content-Security-Policy, so it is one HTML file with an inline stylesheet and
no script. Everything shown comes from the document, so the page and ``/api/openapi.json``
always agree.

Rules: operations are grouped by tag, in path order; each shows its method, path, roles,
summary, description, parameters, request body schema and responses. Every text taken from
the document is HTML-escaped.
"""

from __future__ import annotations

import json
from html import escape
from typing import Any

_STYLE = """
body{font:15px/1.5 system-ui,sans-serif;margin:0 auto;max-width:70rem;padding:1rem 2rem;
color:#1d2733}
h1{margin-bottom:0}h2{border-bottom:2px solid #d8dee6;padding-top:1rem}
.op{border:1px solid #d8dee6;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}
.method{display:inline-block;min-width:4.5rem;font-weight:700;font-family:monospace}
.get{color:#0b6bcb}.post{color:#138a36}.put{color:#b36b00}.delete{color:#c0262d}
.path{font-family:monospace;font-size:1.05rem}.roles{color:#5b6b7c;float:right}
table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #d8dee6;padding:.2rem .5rem;
text-align:left;vertical-align:top}pre{background:#f4f6f8;padding:.5rem;overflow:auto;
font-size:.85rem}details summary{cursor:pointer}
"""


def render_docs(document: dict[str, Any]) -> str:
    """The reference page of ``document`` (an OpenAPI 3.1 document)."""
    info = document.get("info", {})
    by_tag: dict[str, list[str]] = {}
    for path, methods in document.get("paths", {}).items():
        for method, op in methods.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(method, path, op))
    sections = [
        f"<h2 id='{escape(tag)}'>{escape(tag)}</h2>" + "".join(ops)
        for tag, ops in sorted(by_tag.items())
    ]
    schemas = document.get("components", {}).get("schemas", {})
    sections.append(
        "<h2 id='schemas'>schemas</h2>"
        + "".join(
            f"<details id='schema-{escape(name)}'><summary><code>{escape(name)}</code></summary>"
            f"<pre>{escape(json.dumps(schema, indent=2, sort_keys=True))}</pre></details>"
            for name, schema in sorted(schemas.items())
        )
    )
    toc = " · ".join(
        f"<a href='#{escape(tag)}'>{escape(tag)}</a>" for tag in [*sorted(by_tag), "schemas"]
    )
    title = escape(str(info.get("title", "API")))
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{title}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{title} <small>{escape(str(info.get('version', '')))}</small></h1>"
        f"<p>{_paragraphs(str(info.get('description', '')))}</p>"
        "<p>Machine-readable: <a href='/api/openapi.json'>/api/openapi.json</a> "
        f"(OpenAPI {escape(str(document.get('openapi', '')))}).</p>"
        f"<p>{toc}</p>{''.join(sections)}</body></html>"
    )


def _operation(method: str, path: str, op: dict[str, Any]) -> str:
    roles = op.get("x-roles")
    who = "public" if op.get("security") == [] else ", ".join(roles or [])
    parts = [
        f"<div class='op' id='{escape(op.get('operationId', ''))}'>",
        f"<span class='roles'>{escape(who)}</span>",
        f"<span class='method {escape(method)}'>{escape(method.upper())}</span> ",
        f"<span class='path'>{escape(path)}</span>",
        f"<p><b>{escape(op.get('summary', ''))}</b></p>",
    ]
    if op.get("description"):
        parts.append(f"<p>{_paragraphs(op['description'])}</p>")
    if op.get("parameters"):
        rows = "".join(
            f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
            f"<td>{'yes' if p.get('required') else 'no'}</td>"
            f"<td><code>{escape(_short(p.get('schema', {})))}</code></td></tr>"
            for p in op["parameters"]
        )
        parts.append(
            "<table><tr><th>parameter</th><th>in</th><th>required</th><th>schema</th></tr>"
            f"{rows}</table>"
        )
    body = op.get("requestBody", {}).get("content", {}).get("application/json")
    if body is not None:
        parts.append(f"<p>Body: <code>{_linked(body['schema'])}</code></p>")
    rows = "".join(
        f"<tr><td>{escape(status)}</td><td>{escape(resp.get('description', ''))}</td>"
        f"<td><code>{_media(resp)}</code></td></tr>"
        for status, resp in op.get("responses", {}).items()
    )
    parts.append(f"<table><tr><th>status</th><th>meaning</th><th>body</th></tr>{rows}</table>")
    parts.append("</div>")
    return "".join(parts)


def _media(response: dict[str, Any]) -> str:
    """The response's media type and schema, as HTML (a schema's name links to it)."""
    content = response.get("content")
    if not content:
        return "—"
    media, spec = next(iter(content.items()))
    return f"{escape(media)} {_linked(spec.get('schema', {}))}"


def _linked(schema: dict[str, Any]) -> str:
    """A schema as HTML: a named one links to its entry under "schemas"."""
    ref = schema.get("$ref")
    if isinstance(ref, str):
        name = escape(ref.rsplit("/", 1)[1])
        return f"<a href='#schema-{name}'>{name}</a>"
    return escape(_short(schema))


def _short(schema: dict[str, Any]) -> str:
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[1]
    return json.dumps(schema, sort_keys=True)


def _paragraphs(text: str) -> str:
    return "</p><p>".join(escape(chunk).replace("\n", " ") for chunk in text.split("\n\n"))
