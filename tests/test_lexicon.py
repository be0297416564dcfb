"""Weighted edit distance, cost-table learning and lexicon search."""
import math
import os

import editdistance
import pytest

from ocr.decode import get_decoder
from ocr.decode.distance import DEFAULT_COSTS_PATH, EditCosts, align, weighted_distance
from ocr.decode.lexicon import Lexicon, LexiconCorrector, decode_lexicon
from ocr.decode.testdata import CTC_DIR, load_sample
from tests.conftest import require_testdata, utils_script

learn_edit_costs = utils_script("learn_edit_costs")


@pytest.fixture(scope="module")
def word_lexicon():
    require_testdata("ctc", "word", "corpus.txt")
    return Lexicon.from_text_file(os.path.join(CTC_DIR, "word", "corpus.txt"))


@pytest.fixture(scope="module")
def english():
    return LexiconCorrector(costs=EditCosts())


@pytest.mark.parametrize("a,b", [("", ""), ("", "abc"), ("kitten", "sitting"), ("aircrapt", "aircraft"),
                                 ("fomly", "family"), ("abc", "cba"), ("Tbe", "The")])
def test_unit_costs_give_levenshtein(a, b):
    assert weighted_distance(a, b) == editdistance.eval(a, b)
    assert EditCosts.load(DEFAULT_COSTS_PATH).distance(a, b) == editdistance.eval(a, b)


def test_weighted_costs_hand_values():
    costs = EditCosts(insertion={"e": 0.5}, deletion={"x": 0.25}, substitution={"a": {"o": 0.3}})
    assert costs.distance("cat", "cot") == pytest.approx(0.3)       # read a, o written: cheap
    assert costs.distance("cot", "cat") == pytest.approx(1.0)       # the other direction is not
    assert costs.distance("bat", "cot") == pytest.approx(1.3)
    assert costs.distance("aa", "oo") == pytest.approx(0.6)
    assert costs.distance("th", "the") == pytest.approx(0.5)         # e missed
    assert costs.distance("thex", "the") == pytest.approx(0.25)      # spurious x
    assert costs.distance("xb", "eb") == pytest.approx(0.75)         # delete x + insert e beats x -> e
    assert costs.distance("a", "") == pytest.approx(1.0) and costs.distance("", "ee") == pytest.approx(1.0)


def test_caches_of_distances_and_candidates_stay_bounded(monkeypatch):
    monkeypatch.setattr("ocr.decode.distance.DISTANCE_CACHE_SIZE", 3)
    monkeypatch.setattr("ocr.decode.lexicon.CANDIDATE_CACHE_SIZE", 2)
    corrector = LexiconCorrector(Lexicon({"cat": 5, "cot": 2, "dog": 3}), EditCosts())
    words = ["cst", "dgo", "cxt", "dag", "cit", "cst"]
    found = [corrector.close_candidates(word) for word in words]
    assert len(corrector._cache) <= 2 and len(corrector.costs._cache) <= 3
    assert found == [LexiconCorrector(Lexicon({"cat": 5, "cot": 2, "dog": 3}), EditCosts()).close_candidates(word)
                     for word in words]
    assert [corrector.costs.distance("kitten", w) for w in ("sitting", "kitchen", "sitting")] == [3, 2, 3]


def test_alignment():
    assert align("fomly", "family") == [("match", "f", "f"), ("sub", "o", "a"), ("match", "m", "m"),
                                        ("ins", None, "i"), ("match", "l", "l"), ("match", "y", "y")]
    assert align("thex", "the")[-1] == ("del", "x", None)


def test_learned_costs_from_hand_made_pairs(tmp_path):
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("prediction\ttruth\nTbe cat\tThe cat\ntbe end\tthe end\nknowm\tknown\nmoon\tmoon\n",
                     encoding="utf-8")
    out = tmp_path / "costs.json"
    learn_edit_costs.main([str(pairs), "-o", str(out)])
    costs = EditCosts.load(str(out))
    # 3 errors (b->h twice, m->n once); 14 characters seen: K = 2 * 14 + 14 * 13 = 210
    scale = math.log(3 + 210)
    assert costs.substitution["b"]["h"] == pytest.approx(1 - math.log(3) / scale, abs=1e-6)
    assert costs.substitution["m"]["n"] == pytest.approx(1 - math.log(2) / scale, abs=1e-6)
    assert costs.insertion == {} and costs.deletion == {} and costs.default == 1.0
    assert costs.distance("tbe", "the") < 1.0
    # a tie under unit costs (know: delete m; known: m -> n) is broken by the learned cost
    lexicon = Lexicon({"know": 10, "known": 10})
    assert LexiconCorrector(lexicon, EditCosts()).correct_word("knowm") == "know"
    assert LexiconCorrector(lexicon, costs).correct_word("knowm") == "known"


def test_lexicon_search_corrects_aircrapt(word_lexicon):
    log_probs, alphabet, truth = load_sample("word", 0)
    corrector = LexiconCorrector(word_lexicon, EditCosts())
    decoded = decode_lexicon(log_probs, alphabet, corrector=corrector)
    assert decoded.text == truth == "aircraft"
    assert 0.0 < decoded.confidence < 1.0
    factory = get_decoder("lexicon", lexicon=os.path.join(CTC_DIR, "word", "corpus.txt"))
    assert factory(log_probs, alphabet).text == "aircraft"


def test_english_lexicon_keeps_case_punctuation_and_far_words(english):
    assert english.correct_text("Tbe, cat") == "The, cat"
    assert english.correct_text("TBE end.") == "THE end."
    assert english.correct_text("aircrapt (beyond) 3rd don't") == "aircraft (beyond) 3rd don't"
    assert english.correct_text("xqzvwk a") == "xqzvwk a"                   # nothing close enough: kept
    assert english.correct_text("Tbe's") == "The's"


def test_matrix_ranking_uses_the_recogniser_evidence(english, word_lexicon):
    log_probs, alphabet, _ = load_sample("iam", 0)
    by_distance = decode_lexicon(log_probs, alphabet, corrector=english).text.split()
    by_matrix = decode_lexicon(log_probs, alphabet, corrector=english, rank="matrix").text.split()
    assert by_distance[1] == "fax" and by_matrix[1] == "fake"       # "fak": the matrix has mass for an e
    log_probs, alphabet, _ = load_sample("word", 0)
    corrector = LexiconCorrector(word_lexicon, EditCosts())
    assert decode_lexicon(log_probs, alphabet, corrector=corrector, rank="matrix").text == "aircraft"
