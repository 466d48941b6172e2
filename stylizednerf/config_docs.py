"""``config/README.md``: every config key (section, key, type, default, description), written
from the one schema, ``stylizednerf/config.schema.yaml``.

The page is generated so it cannot drift from what the workflow accepts: edit the schema, then
run ``python -m stylizednerf.config_docs`` (``--check`` exits 1 when the committed page is out
of date; tests/test_config_docs.py runs that check).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from stylizednerf.paths import PROJECT_ROOT
from stylizednerf.settings import SCHEMA_PATH

README_PATH = PROJECT_ROOT / "config" / "README.md"
NAME_PLACEHOLDER = "<name>"  # keys the user chooses (scene and style names)
BOUNDS = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="), ("exclusiveMaximum", "<"),
          ("multipleOf", "multiple of"))


def type_text(spec: dict) -> str:
    """'integer, >= 1', 'number or null', 'one of: fast, mlp', 'list of integer, >= 1'."""
    if "enum" in spec:
        text = "one of: " + ", ".join(str(value) for value in spec["enum"])
    else:
        kinds = spec.get("type", "any")
        text = " or ".join(kinds) if isinstance(kinds, list) else kinds
        if text == "array" and "items" in spec:
            text = "list of " + type_text(spec["items"])
    bounds = [f"{sign} {spec[key]}" for key, sign in BOUNDS if key in spec]
    return ", ".join([text, *bounds])


def default_text(spec: dict, required: bool) -> str:
    if "default" in spec:
        return f"`{json.dumps(spec['default'])}`"
    return "required" if required else ""


def cell(text: str) -> str:
    """One Markdown table cell: folded YAML text on one line, pipes escaped."""
    return " ".join(str(text).split()).replace("|", "\\|")


def is_section(spec: dict) -> bool:
    """A table of its own: fixed keys (``decoder``) or keys the user names (``scenes``, ``styles``)."""
    return "properties" in spec or isinstance(spec.get("additionalProperties"), dict)


def rows(spec: dict, prefix: str = ""):
    """(key, type, default, description) of every leaf key under ``spec``, depth first; the
    entries of a section keyed by the user's names (``scenes``, ``styles``) are listed under
    ``<name>``."""
    required = set(spec.get("required", []))
    for key, child in spec.get("properties", {}).items():
        path = f"{prefix}{key}"
        named = child.get("additionalProperties")
        if "properties" in child:
            yield from rows(child, f"{path}.")
        elif isinstance(named, dict) and "properties" in named:
            yield from rows(named, f"{path}.{NAME_PLACEHOLDER}.")
        elif isinstance(named, dict):
            description = named.get("description", "")
            if key in required:  # the section itself must be there with at least one entry
                description = f"at least one is required; {description}"
            yield f"{path}.{NAME_PLACEHOLDER}", type_text(named), "", description
        else:
            yield path, type_text(child), default_text(child, key in required), child.get("description", "")


def render(schema: dict) -> str:
    """The whole page: one table per top-level section, in schema order."""
    lines = ["# Configuration keys", "",
             "<!-- generated from stylizednerf/config.schema.yaml by `python -m stylizednerf.config_docs`;"
             " do not edit by hand -->", "",
             cell(schema.get("description", "")), "",
             "A key left out takes its default. `config.yaml` (the demo), `config/paper.yaml` and"
             " `config/fern_cpu.yaml` are examples. Each section's keys reach only the stages that"
             " read them (`stylizednerf/settings.py`).", ""]
    required = sorted(schema.get("required", []))
    properties = schema["properties"]
    top_level = {key: spec for key, spec in properties.items() if not is_section(spec)}
    tables = [("top level", None, top_level)]
    tables += [(key, spec.get("description"), {key: spec}) for key, spec in properties.items() if is_section(spec)]
    for title, description, keys in tables:
        lines += [f"## {title}", ""]
        if description:
            lines += [cell(description), ""]
        lines += ["| key | type | default | description |", "|---|---|---|---|"]
        for key, kind, default, text in rows({"properties": keys, "required": required}):
            lines.append(f"| `{key}` | {cell(kind)} | {cell(default)} | {cell(text)} |")
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m stylizednerf.config_docs", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page differs from the schema's")
    parser.add_argument("--out", type=Path, default=README_PATH)
    args = parser.parse_args(argv)
    text = render(yaml.safe_load(SCHEMA_PATH.read_text()))
    if args.check:
        if not args.out.is_file() or args.out.read_text() != text:
            print(f"error: {args.out} is out of date with {SCHEMA_PATH.name}: run python -m stylizednerf.config_docs",
                  file=sys.stderr)
            return 1
        return 0
    args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
