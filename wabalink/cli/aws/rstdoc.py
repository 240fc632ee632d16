"""A reStructuredText writer and the model's HTML documentation converted into it.

AWS CLI v2 renders help pages from reStructuredText; to print the same pages, wabalink builds
reStructuredText that parses to the same document.  The conversion rules follow what v2 prints
(words re-spaced, inline markup closed against the text, links as anonymous references, list
items as ``*`` bullets), including its quirks, because the rendered page must be identical.
"""
from __future__ import annotations

from html.parser import HTMLParser

INDENT_WIDTH = 2


class RstWriter:
    """Append-only reStructuredText with an indentation level and a rewritable last write."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.level = 0
        self.keep = True  # False inside <examples> and <fullname>, whose text v2 drops
        self.in_item = False  # paragraphs inside a list item do not break it
        self.list_depth = 0
        self.href: str | None = None
        self.targets: dict[str, str] = {}

    # -- raw writes -------------------------------------------------------------------------
    def write(self, text: str) -> None:
        if self.keep:
            self.parts.append(text)

    def pop(self) -> str:
        return self.parts.pop()

    def push(self, text: str) -> None:
        self.parts.append(text)

    def spaces(self) -> str:
        return " " * (self.level * INDENT_WIDTH)

    def writeln(self, text: str) -> None:
        self.write(f"{self.spaces()}{text}\n")

    def new_paragraph(self) -> None:
        self.write("\n\n" + self.spaces())

    def new_line(self) -> None:
        self.write("\n" + self.spaces())

    def indent(self) -> None:
        self.level += 1

    def dedent(self) -> None:
        self.level = max(0, self.level - 1)

    # -- blocks -----------------------------------------------------------------------------
    def heading(self, text: str, char: str) -> None:
        border = char * len(text)
        self.new_paragraph()
        self.write(f"{border}\n{text}\n{border}")
        self.new_paragraph()

    def start_list(self) -> None:
        if self.list_depth:
            self.indent()
        self.list_depth += 1
        self.new_paragraph()

    def end_list(self) -> None:
        self.list_depth -= 1
        if self.list_depth:
            self.dedent()
        self.new_paragraph()

    def start_item(self) -> None:
        self.new_line()
        self.in_item = True
        self.write("* ")

    def end_item(self) -> None:
        self.in_item = False
        self.new_line()

    def item(self, text: str) -> None:
        self.start_item()
        self.writeln(text)
        self.end_item()

    def items(self, texts: list[str]) -> None:
        self.start_list()
        for text in texts:
            self.item(text)
        self.end_list()

    def start_code_block(self) -> None:
        self.write("::")
        self.indent()
        self.new_paragraph()

    def end_code_block(self) -> None:
        self.dedent()
        self.new_paragraph()

    def start_note(self) -> None:
        self.new_paragraph()
        self.write(".. note::")
        self.indent()
        self.new_paragraph()

    def end_note(self) -> None:
        self.dedent()
        self.new_paragraph()

    # -- inline markup ----------------------------------------------------------------------
    def close_inline(self, markup: str) -> None:
        """Close markup against the text (``<b>x </b>`` -> ``**x** ``); drop it when empty."""
        last = self.pop().rstrip(" ")
        if last == markup:
            return
        self.push(last)
        self.write(markup + " ")

    def start_link(self, attrs: list[tuple[str, str | None]]) -> None:
        if not attrs:
            self.write(" ")
        for key, value in attrs:
            if key == "href":
                self.href = value
                self.write("`")

    def end_link(self) -> None:
        if self.href:
            last = self.pop().rstrip(" ")
            if last and last != "`":
                self.push(last.replace(":", r"\:"))
                self.push(f" <{self.href}>`__")
            elif last == "`":
                self.push(f"`<{self.href}>`__")
            else:
                self.push(self.href)
                self.targets[self.href] = self.href
                self.write("`__")
            self.href = None
        self.write(" ")

    def value(self) -> str:
        if self.targets:
            self.new_paragraph()
            for name, link in self.targets.items():
                self.writeln(f".. _{name}: {link}")
        return "".join(self.parts)

    # -- model documentation ----------------------------------------------------------------
    def include_html(self, html: str) -> None:
        if html:
            _HtmlToRst(self).convert(html)


# Tags with a meaning; any other tag is dropped and its text kept.
_INLINE = {"b": "**", "bold": "**", "i": "*", "italics": "*", "code": "``"}
_KNOWN = {*_INLINE, "p", "a", "li", "ul", "ol", "note", "important", "danger", "examples",
          "fullname", "codeblock"}


class _Node:
    def __init__(self, tag: str | None, attrs: list[tuple[str, str | None]] | None = None) -> None:
        self.tag = tag
        self.attrs = attrs or []
        self.children: list[_Node | str] = []
        self.parent: _Node | None = None


class _HtmlToRst(HTMLParser):
    def __init__(self, out: RstWriter) -> None:
        self.out = out
        self.root = _Node(None)
        self.current = self.root
        super().__init__()

    def convert(self, html: str) -> None:
        # Text still buffered after feed() is flushed by close(), into a tree of its own.
        self.feed(html)
        self._flush()
        self.close()
        self._flush()

    def _flush(self) -> None:
        self._emit(self.root)
        self.root = self.current = _Node(None)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _KNOWN:
            node = _Node(tag, attrs)
            node.parent = self.current
            self.current.children.append(node)
            self.current = node

    def handle_endtag(self, tag: str) -> None:
        if tag in _KNOWN and self.current.parent is not None:
            self.current = self.current.parent

    def handle_data(self, data: str) -> None:
        self.current.children.append(data)

    def _emit(self, node: _Node | str) -> None:
        if isinstance(node, str):
            self._text(node)
            return
        if node.tag == "li":
            _lstrip(node)
        self._start(node)
        for child in node.children:
            self._emit(child)
        self._end(node)

    def _text(self, data: str) -> None:
        if not data:
            return
        if data.isspace():
            self.out.write(" ")
            return
        self.out.write(" ".join(data.split()) + (" " if data[-1].isspace() else ""))

    def _start(self, node: _Node) -> None:
        out, tag = self.out, node.tag
        if tag in _INLINE:
            out.write(_INLINE[tag])
        elif tag == "p" and not out.in_item:
            out.write("\n\n" + out.spaces())
        elif tag == "a":
            out.start_link(node.attrs)
        elif tag == "li":
            out.start_item()
        elif tag in ("ul", "ol"):
            out.start_list()
        elif tag in ("note", "important", "danger"):
            out.new_paragraph()
            out.write({"note": ".. note::", "important": ".. warning::", "danger": ".. danger::"}[tag])
            out.indent()
            out.new_paragraph()
        elif tag in ("examples", "fullname"):
            out.keep = False
        elif tag == "codeblock":
            out.start_code_block()

    def _end(self, node: _Node) -> None:
        out, tag = self.out, node.tag
        if tag in _INLINE:
            out.close_inline(_INLINE[tag])
        elif tag == "p" and not out.in_item:
            out.write("\n\n" + out.spaces())
        elif tag == "a":
            out.end_link()
        elif tag == "li":
            out.end_item()
        elif tag in ("ul", "ol"):
            out.end_list()
        elif tag in ("note", "important", "danger", "codeblock"):
            out.dedent()
            out.new_paragraph()
        elif tag in ("examples", "fullname"):
            out.keep = True


def _lstrip(node: _Node) -> bool:
    """Strip a list item's leading whitespace, up to its first text; True once text is found."""
    for i, child in enumerate(node.children):
        if isinstance(child, str):
            node.children[i] = child = child.lstrip()
            if child:
                return True
        elif _lstrip(child):
            return True
    return False
