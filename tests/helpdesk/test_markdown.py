from __future__ import annotations

import html as html_lib

import pytest

from helpdesk.markdown import render_markdown


@pytest.mark.parametrize(
    "source",
    [
        "<script>alert(1)</script>",
        "[click](javascript:alert(1))",
        "[click](JaVaScRiPt:alert(1))",
        "[click](&#106;avascript:alert(1))",
        "[click](java\tscript:alert(1))",
        '<a href="javascript:alert(1)">x</a>',
        '<img src=x onerror="alert(1)">',
        "![x](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        '<svg onload="alert(1)"></svg>',
        '<iframe src="https://evil.example"></iframe>',
    ],
)
def test_dangerous_markdown_renders_inert(source):
    html = str(render_markdown(source)).lower()
    # What a browser reads: entities decoded, tabs and newlines inside a URL dropped;
    # otherwise an "&#106;avascript:" or "java\tscript:" link that survived would pass.
    href_text = html_lib.unescape(html).replace("\t", "").replace("\n", "")
    assert "javascript:" not in href_text
    assert "<script" not in html
    assert "javascript:" not in html
    assert "onerror" not in html and "onload" not in html
    assert "data:text/html" not in html
    assert "<iframe" not in html and "<svg" not in html


def test_ordinary_markdown_survives():
    html = str(render_markdown("**bold** [docs](https://example.com)\n\n```\ncode\n```"))
    assert "<strong>bold</strong>" in html
    assert 'href="https://example.com"' in html
    assert "<pre><code>code" in html
