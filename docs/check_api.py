"""Check that every page of the built API reference shows a rendered signature.

A stub that Sphinx reads with the wrong parser still builds without a warning, and its page then
shows the directives (``.. autofunction:: ...``) as text. Run after ``sphinx-build``::

    python docs/check_api.py BUILD_DIR

It exits non-zero, naming the pages, when ``BUILD_DIR/generated`` holds no pages, or when a page
lacks a Python object's signature or shows reST directives as text.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

# Directive text that a rendered page never shows: ".. autofunction::", ".. currentmodule::", ...
_LITERAL_DIRECTIVE = re.compile(r"\.\.\s+(auto\w+|currentmodule|module)::")


class _Page(HTMLParser):
    """Collects whether a page has a Python signature, and its visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.signatures = 0
        self.text: list[str] = []
        self._hidden = 0  # depth inside <script> and <style>, whose text is not shown

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        classes = (dict(attrs).get("class") or "").split()
        if tag == "dt" and "sig-object" in classes and "py" in classes:
            self.signatures += 1
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.text.append(data)


def problems(html_dir: Path) -> list[str]:
    """Return what is wrong with the API pages under ``html_dir/generated``, one line each."""
    pages = sorted((html_dir / "generated").glob("*.html"))
    if not pages:
        return [f"no API pages in {html_dir / 'generated'}"]
    found = []
    for page in pages:
        parser = _Page()
        parser.feed(page.read_text(encoding="utf-8"))
        if not parser.signatures:
            found.append(f"{page.name}: no rendered signature (dt.sig-object.py)")
        literal = _LITERAL_DIRECTIVE.search("".join(parser.text))
        if literal:
            found.append(f"{page.name}: shows the directive {literal.group(0)!r} as text")
    return found


def main(argv: list[str]) -> int:
    """Check the build directory named in ``argv``; return the exit status."""
    if len(argv) != 1:
        print("usage: python docs/check_api.py BUILD_DIR", file=sys.stderr)
        return 2
    found = problems(Path(argv[0]))
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
