"""The tables' HTML pages for the Snakemake report (stylizednerf.table_page)."""

from stylizednerf.table_page import markdown_to_html


def test_headings_paragraphs_and_table_in_order():
    page = markdown_to_html("### Scene demo\n\n**Smoke test.** not results\nsecond line\n\n"
                            "| method | RMSE | runs |\n|---|---|---|\n| AdaIN | 0.1234 | 2 |\n| ours | 0.05 | 2 |\n",
                            "t")
    body = page.split("<body>", 1)[1]
    assert body.index("<h3>Scene demo</h3>") < body.index("<p><strong>Smoke test.</strong> not results second line</p>") \
        < body.index("<table>")
    assert "<thead><tr><th>method</th><th>RMSE</th><th>runs</th></tr></thead>" in body
    assert "<tr><td>AdaIN</td><td>0.1234</td><td>2</td></tr><tr><td>ours</td><td>0.05</td><td>2</td></tr>" in body
    assert "---" not in body  # the separator row is not a row
    assert "<title>t</title>" in page


def test_text_is_escaped_and_empty_cells_kept():
    page = markdown_to_html("a <b> & c\n\n| x | y |\n|---|---|\n| <i> |  |\n")
    assert "a &lt;b&gt; &amp; c" in page
    assert "<tr><td>&lt;i&gt;</td><td></td></tr>" in page


def test_two_tables_separated_by_a_paragraph_stay_two():
    page = markdown_to_html("| a |\n|---|\n| 1 |\n\nbetween\n\n| b |\n|---|\n| 2 |\n")
    assert page.count("<table>") == 2 and "<p>between</p>" in page
