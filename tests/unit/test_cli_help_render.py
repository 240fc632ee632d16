"""Help pages: rendered through docutils and groff, and the plain-text page without groff."""
from __future__ import annotations

import re
import shutil

import pytest

from wabalink.cli.aws import helpman, helppage, model, params
from wabalink.cli.aws.rstdoc import RstWriter

OP = "list-linked-whatsapp-business-accounts"


def _page(op_name: str) -> str:
    op = model.operation(op_name)
    assert op is not None
    return helppage.operation_page(op, params.argument_table(op))


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff renders the man page")
def test_page_is_groffs_man_page() -> None:
    page = _page(OP)
    plain = re.sub(r".\x08", "", page)
    assert page.rstrip().endswith(f"{OP.upper()}()")  # the footer (a long title overlaps the header)
    assert "\nDESCRIPTION\n" in plain and "\nOUTPUT\n" in plain
    assert "D\x08DE\x08ES\x08S" in page  # headings in bold, by overstrike
    assert "[--max-items <value>]" in plain and helppage.FALLBACK_NOTE not in page


def test_without_groff_the_plain_page_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(helpman.shutil, "which", lambda name: None)
    page = _page(OP)
    assert page.startswith(helppage.FALLBACK_NOTE + "\n\n")
    assert "\nSynopsis\n" in page and "[--max-items <value>]" in page and "\x08" not in page
    assert helppage.service_page().startswith(helppage.FALLBACK_NOTE)


def test_model_html_becomes_v2s_restructuredtext() -> None:
    w = RstWriter()
    w.include_html('<p>Send <code>x </code> see <a href="https://e.x/a">the guide</a> in '
                   "<i> <i>Guide</i> </i>.</p><ul><li> <p>one</p></li><li>two</li></ul>")
    text = w.value()
    assert "Send ``x`` see `the guide <https://e.x/a>`__ in * *Guide* * ." in text
    assert "* one" in text and "* two" in text


def test_link_text_colons_are_escaped_and_bare_links_inline() -> None:
    w = RstWriter()
    w.include_html('<a href="https://e.x">see: this</a> and <a href="https://e.y"></a>')
    text = w.value()
    assert r"`see\: this <https://e.x>`__" in text and "`<https://e.y>`__" in text
