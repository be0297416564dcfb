"""The English text corpus: normalisation to the alphabet, sentence splitting, disjoint parts."""
from ocr.core.alphabet import in_alphabet
from ocr.data.corpus import load_sentences, normalise, split_sentences


def test_normalise_maps_typography_into_the_alphabet():
    assert normalise("\u201cCaf\u00e9\u201d \u2014 it\u2019s  fine\u2026") == '"Cafe" - it\'s fine...'
    assert normalise("price: 5\u20ac") == ""                           # nothing foreign survives


def test_split_sentences():
    assert split_sentences('He said "Go." Then he left! Why? 3 days.') == ['He said "Go."', "Then he left!",
                                                                          "Why?", "3 days."]


def test_parts_are_disjoint_and_in_alphabet():
    parts = {p: set(load_sentences(p)) for p in ("train", "validation", "test")}
    assert len(parts["train"]) > 20 * len(parts["test"]) > 0
    assert not parts["train"] & parts["test"] and not parts["train"] & parts["validation"]
    assert all(in_alphabet(s) for s in list(parts["test"])[:2000])
