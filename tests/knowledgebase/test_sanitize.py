from __future__ import annotations

import pytest

from tests.factories import ArticleFactory


@pytest.mark.django_db
def test_rendered_article_drops_scripts_javascript_links_and_event_attributes(client):
    ArticleFactory(
        slug="evil",
        title="Evil <b>title</b>",
        body=(
            "<script>alert('x')</script>\n\n"
            "[click me](javascript:alert(1))\n\n"
            '<a href="JaVaScRiPt:alert(2)">two</a>\n\n'
            '<img src="/x.png" onerror="alert(3)">\n\n'
            '<p onclick="alert(4)">para</p>\n\n'
            "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
            "```\nprint('code')\n```\n\n"
            "![diagram](https://example.com/d.png)\n"
        ),
    )
    html = client.get("/kb/evil/").content.decode()
    article = html[html.index('<article class="card prose">') : html.index("</article>")]
    lowered = article.lower()
    assert "<script" not in lowered
    assert "javascript:" not in lowered
    assert "onerror" not in lowered and "onclick" not in lowered
    assert "Evil &lt;b&gt;title&lt;/b&gt;" in article
    # what articles need survives: tables, code blocks, images
    assert "<table>" in article and "<td>1</td>" in article
    assert "<pre><code>" in article
    assert '<img alt="diagram" src="https://example.com/d.png">' in article
