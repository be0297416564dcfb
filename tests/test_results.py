"""The result model (PageResult -> Region -> Line -> Word) and every writer on a page of two regions."""
import json

import numpy as np
from lxml import etree

from ocr.pipeline import outputs
from ocr.pipeline.results import Line, PageResult, Region, Word


def two_regions():
    """A 400 x 300 page: a region of two lines, then a region of one line."""
    first = Region((10, 10, 380, 120), [
        Line("the cat", (20, 20, 200, 40), 0.9,
             [Word("the", (20, 20, 80, 40), 0.95), Word("cat", (110, 20, 110, 40), 0.85)]),
        Line("sat", (20, 70, 100, 40), 0.8, [Word("sat", (20, 70, 100, 40), 0.8)])])
    second = Region((10, 160, 380, 100), [Line("on a mat", (20, 180, 300, 50), 0.7)])
    return PageResult(400, 300, "page", "greedy", [first, second])


def test_page_conveniences_read_every_region_in_order():
    result = two_regions()
    assert result.region == (10, 10, 380, 120)
    assert [line.text for line in result.lines] == ["the cat", "sat", "on a mat"]
    assert result.text == "the cat\nsat\non a mat" == outputs.to_text(result).rstrip("\n")
    assert result.regions[1].text == "on a mat"
    empty = PageResult(400, 300, "page", "greedy")
    assert empty.region is None and empty.lines == [] and empty.text == "" and outputs.to_text(empty) == ""


def test_json_keeps_its_schema_the_first_region_and_all_lines():
    doc = json.loads(outputs.to_json(two_regions(), "p.png"))
    assert doc["region"] == [10, 10, 380, 120]
    assert [line["text"] for line in doc["lines"]] == ["the cat", "sat", "on a mat"]
    assert doc["lines"][0]["words"][1] == {"box": [110, 20, 110, 40], "text": "cat", "confidence": 0.85}


def test_page_xml_and_alto_have_a_block_per_region_and_unique_ids():
    page = etree.fromstring(outputs.to_page_xml(two_regions(), "p.png").encode("utf-8"))
    ns = {"p": outputs.PAGE_NS}
    regions = page.findall(".//p:TextRegion", ns)
    assert [r.get("id") for r in regions] == ["r1", "r2"]
    assert [line.get("id") for line in regions[1].findall("p:TextLine", ns)] == ["r2_l1"]
    assert regions[0].find("p:Coords", ns).get("points") == "10,10 390,10 390,130 10,130"
    assert regions[1].find("p:TextEquiv/p:Unicode", ns).text == "on a mat"

    alto = etree.fromstring(outputs.to_alto(two_regions(), "p.png").encode("utf-8"))
    ns = {"a": outputs.ALTO_NS}
    blocks = alto.findall(".//a:TextBlock", ns)
    assert [b.get("ID") for b in blocks] == ["BLOCK_1", "BLOCK_2"]
    assert [line.get("ID") for b in blocks for line in b.findall("a:TextLine", ns)] == ["LINE_1", "LINE_2", "LINE_3"]
    assert [s.get("ID") for s in alto.findall(".//a:String", ns)] == ["WORD_1_1", "WORD_1_2", "WORD_2_1"]
    assert blocks[1].get("VPOS") == "160" and blocks[1].get("HEIGHT") == "100"


def test_boxed_png_draws_every_region():
    drawn = outputs.draw_result(np.full((300, 400), 255, np.uint8), two_regions())
    for x, y in ((10, 10), (10, 160)):                    # each region's top-left corner, in the region colour
        assert tuple(drawn[y, x]) == outputs.REGION_COLOUR
