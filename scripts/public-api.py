#!/usr/bin/env python3
"""The crate's public API, read from the docs rustdoc wrote: every item of the docs' index
(`all.html`) with, for a type, its public fields, variants, inherent methods and the traits it
implements (blanket implementations left out: they come from whichever crates are linked), and
for a trait, its methods. One line each, sorted within an item, so that a change to the API is a
diff of `public-api.txt`.

    cargo doc --no-deps --features mpi,tracing,futures
    python3 scripts/public-api.py "${CARGO_TARGET_DIR:-target}/doc" > public-api.txt

CI runs the same and fails if the file differs (`.ci/run`)."""

import html
import re
import sys
import urllib.parse
from pathlib import Path

CRATE = "concurrent_futures"
ID = re.compile(r'\bid="([^"]+)"')
SECTIONS = {
    "implementations": "inherent",
    "trait-implementations": "trait",
    "synthetic-implementations": "auto",
    "blanket-implementations": None,
    "required-methods": "required",
    "provided-methods": "provided",
    "implementors": None,
    "object-safety": None,
    "dyn-compatibility": None,
}


def items(doc: Path):
    """(kind, path, page) for each entry of the docs' index."""
    index = (doc / CRATE / "all.html").read_text()
    for href in re.findall(r'href="([^"#]+)\.html"', index):
        *dirs, leaf = href.split("/")
        if "." not in leaf or dirs[:1] == [".."]:
            continue
        kind, name = leaf.split(".", 1)
        yield kind, "::".join([CRATE, *dirs, name]), doc / CRATE / f"{href}.html"


def members(page: Path):
    """The lines under one item: fields, variants, methods, implemented traits."""
    text = page.read_text()
    main = text[text.find('id="main-content"') :]
    section, out = "top", set()
    for ident in ID.findall(main):
        if ident in SECTIONS:
            section = SECTIONS[ident]
            continue
        if section is None or ident.endswith("-list"):
            continue
        base = re.sub(r"-\d+$", "", ident)
        kind, _, name = base.partition(".")
        if kind == "structfield" and section == "top":
            out.add(f"field {name}")
        elif kind == "variant" and section == "top":
            variant, _, field = name.partition(".field.")
            if not name.endswith(".fields"):
                out.add(f"variant {variant}" + (f" field {field}" if field else ""))
        elif kind in ("method", "tymethod") and section in ("inherent", "required", "provided"):
            out.add(f"fn {name}" + (" (provided)" if section == "provided" else ""))
        elif kind == "associatedtype" and section in ("required", "provided", "top"):
            out.add(f"type {name}")
        elif ident.startswith("impl-") and section in ("trait", "auto"):
            trait = urllib.parse.unquote(ident[len("impl-") :]).replace("+", " ")
            trait = re.sub(r"-\d+$", "", html.unescape(trait))
            out.add(f"impl {trait.replace('-for-', ' for ')}")
    return sorted(out)


def main():
    doc = Path(sys.argv[1] if len(sys.argv) > 1 else "target/doc")
    for kind, path, page in sorted(items(doc), key=lambda x: x[1]):
        print(f"{kind} {path}")
        for line in members(page):
            print(f"    {line}")


if __name__ == "__main__":
    main()
