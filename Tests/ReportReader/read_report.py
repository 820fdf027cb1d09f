#!/usr/bin/env python3
"""Reads a report `dossier export --report` wrote, as a browser's parser would, and prints what
the tests check as one JSON object (Python standard library only).

    read_report.py REPORT.html [BUNDLE.json]

It prints: the document's `lang`, its title, what could run or load (script, iframe, object,
embed, img, link and any `on…` attribute; every `src`/`href` that is not a link inside the
document), the text of the elements that have an id, the rows of every table (class, id, the
text of each cell), the text of each section by id, the whole text, and with BUNDLE the SHA-256
of that file.
"""
import hashlib
import json
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Reader(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.title = ""
        self.active = []  # tags that run or load something
        self.handlers = []  # on... attributes
        self.external = []  # src/href not starting with '#'
        self.stack = []  # open elements: [tag, id, text parts]
        self.by_id = {}
        self.tables = []  # {"class": ..., "rows": [...]}
        self.table_stack = []
        self.row = None
        self.cell = None
        self.text = []
        self.in_style = False
        self.in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag in ("script", "iframe", "object", "embed", "img", "link", "frame", "base", "form"):
            self.active.append(tag)
        for name, value in attrs.items():
            if name.startswith("on"):
                self.handlers.append(name)
            if name in ("src", "href", "action", "srcset", "data") and not (value or "").startswith("#"):
                self.external.append(value)
        if tag == "style":
            self.in_style = True
        if tag == "title":
            self.in_title = True
        if tag == "table":
            table = {"class": attrs.get("class", ""), "rows": []}
            self.tables.append(table)
            self.table_stack.append(table)
        if tag == "tr" and self.table_stack:
            self.row = {"class": attrs.get("class", ""), "id": attrs.get("id", ""), "cells": []}
            self.table_stack[-1]["rows"].append(self.row)
        if tag in ("td", "th") and self.row is not None:
            self.cell = []
            self.row["cells"].append(self.cell)
        if tag == "br":
            self._text("\n")
        if tag not in VOID:
            self.stack.append([tag, attrs.get("id"), []])

    def handle_endtag(self, tag):
        if tag == "style":
            self.in_style = False
        if tag == "title":
            self.in_title = False
        if tag in VOID:
            return
        while self.stack:
            open_tag, ident, parts = self.stack.pop()
            if ident:
                self.by_id[ident] = "".join(parts).strip()
            if open_tag == tag:
                break
        if tag in ("td", "th") and self.row is not None and self.cell is not None:
            self.row["cells"][-1] = "".join(self.cell).strip()
            self.cell = None
        if tag == "tr":
            self.row = None
        if tag == "table" and self.table_stack:
            self.table_stack.pop()

    def _text(self, data):
        for element in self.stack:
            element[2].append(data)
        if self.cell is not None:
            self.cell.append(data)
        self.text.append(data)

    def handle_data(self, data):
        if self.in_style:
            return
        if self.in_title:
            self.title += data
            return
        self._text(data)


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__.strip().split("\n\n")[1].strip(), file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as handle:
        source = handle.read()
    reader = Reader()
    reader.feed(source)
    reader.close()
    out = {
        "lang": reader.lang,
        "title": reader.title,
        "active": reader.active,
        "handlers": reader.handlers,
        "external": reader.external,
        "ids": reader.by_id,
        "tables": [{"class": t["class"], "rows": [r for r in t["rows"]]} for t in reader.tables],
        "text": "".join(reader.text),
    }
    if len(argv) == 3:
        with open(argv[2], "rb") as handle:
            out["bundleSha256"] = hashlib.sha256(handle.read()).hexdigest()
    print(json.dumps(out, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
