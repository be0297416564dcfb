"""Prose sources for the language model: the R lazy-load reader and paragraph handling."""
import struct
import zlib

from ocr.data.prose import paragraphs, r_lazyload_strings


def charsxp(text):
    data = text.encode("utf-8")
    return struct.pack(">ii", 0x00040009, len(data)) + data


def test_r_lazyload_strings_reads_each_blobs_character_vector(tmp_path):
    blobs = []
    for strings in (["EMMA", "", "Emma Woodhouse, handsome"], ["PERSUASION"]):
        body = b"X\n\x00\x00\x00\x03" + struct.pack(">ii", 0x10, len(strings)) + b"".join(map(charsxp, strings))
        packed = zlib.compress(body)
        blobs.append(struct.pack(">I", len(body)) + packed)
    path = tmp_path / "Rdata.rdb"
    path.write_bytes(b"".join(blobs))
    assert r_lazyload_strings(str(path)) == [["EMMA", "", "Emma Woodhouse, handsome"], ["PERSUASION"]]


def test_paragraphs_split_at_blank_lines():
    assert paragraphs(["It was", "a day.", "", "", "Next one."]) == ["It was a day.", "Next one."]
