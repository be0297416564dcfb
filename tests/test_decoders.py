"""Greedy, beam search and the character LM on the real CTC matrices of ../shared/testdata/ctc."""
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from ocr.core.alphabet import ALPHABET
from ocr.decode import get_decoder
from ocr.decode.beam_search import decode_beam, prefix_beam_search
from ocr.decode.ctc import column_labels, ctc_log_likelihood, log_softmax, softmax, text_to_columns, to_log_probs
from ocr.decode.greedy import decode_greedy
from ocr.decode.lm import CharNgramLM, bits_per_char, save_lm, tables_to_lm, train_lm
from ocr.decode.testdata import load_logits, load_sample, CTC_DIR
from ocr.metrics import cer
from ocr.core.paths import REPO_ROOT
from tests.conftest import require_testdata

BEST_PATHS = {("iam", 0): "the fak friend of the fomly hae tC",
              ("bentham", 0): "brain.",
              ("bentham", 1): "sappond",
              ("bentham", 2): "subuth both mental and corporeal, is far begond any ifea",
              ("word", 0): "aircrapt"}


@pytest.fixture(scope="module")
def samples():
    require_testdata("ctc")
    return {key: load_sample(*key) for key in BEST_PATHS}


@pytest.fixture(scope="module")
def shipped_lm():
    return CharNgramLM.load()


def text_log_likelihood(log_probs, alphabet, text):
    labels, blank = column_labels(alphabet, log_probs.shape[1])
    return ctc_log_likelihood(log_probs, text_to_columns(text, labels), blank)


@pytest.mark.testdata("ctc")
def test_loader_drops_the_trailing_empty_column():
    logits = load_logits("%s/iam/mat_0.csv" % CTC_DIR)
    assert logits.shape == (100, 80)


@pytest.mark.parametrize("key", sorted(BEST_PATHS))
def test_greedy_gives_the_published_best_paths(samples, key):
    log_probs, alphabet, _ = samples[key]
    assert decode_greedy(log_probs, alphabet).text == BEST_PATHS[key]
    assert decode_greedy(np.exp(log_probs), alphabet).text == BEST_PATHS[key]       # probabilities detected


@pytest.mark.testdata("ctc")
def test_input_detection_and_blank_column():
    log_probs, alphabet, _ = load_sample("iam", 0)
    with pytest.raises(ValueError):
        to_log_probs(log_probs + 3.0)                                                 # raw scores refused
    moved = np.concatenate([log_probs[:, -1:], log_probs[:, :-1]], axis=1)            # blank first
    assert decode_greedy(moved, alphabet, blank=0).text == BEST_PATHS[("iam", 0)]
    assert decode_beam(moved, alphabet, blank=0).text == decode_beam(log_probs, alphabet).text


def test_softmax_is_probabilities_over_the_last_axis_in_the_scores_dtype():
    scores = np.random.default_rng(0).normal(scale=5, size=(3, 50, 80)).astype(np.float32)
    probs = softmax(scores)
    assert probs.dtype == np.float32 and probs.shape == scores.shape
    np.testing.assert_allclose(probs.sum(axis=-1), 1, rtol=1e-5)
    np.testing.assert_allclose(np.log(probs[1]), log_softmax(scores[1]), atol=1e-4)


def test_ctc_forward_pass_matches_the_known_ground_truth_probability(samples):
    log_probs, alphabet, truth = samples[("iam", 0)]
    assert math.isclose(text_log_likelihood(log_probs, alphabet, truth), -28.090721774903226, rel_tol=1e-9)


def test_confidences():
    probs = np.full((6, 4), 0.0)                   # alphabet "ab " + blank; path a a blank b blank blank
    for t, (c, p) in enumerate([(0, 0.9), (0, 0.6), (3, 1.0), (1, 0.5), (3, 1.0), (3, 1.0)]):
        probs[t] = (1 - p) / 3
        probs[t, c] = p
    decoded = decode_greedy(probs, "ab ")
    assert decoded.text == "ab"
    assert math.isclose(decoded.confidence, math.sqrt(0.9 * 0.5))                 # best step of each char
    assert decoded.word_confidences == [("ab", pytest.approx(math.sqrt(0.9 * 0.5)))]


@pytest.mark.parametrize("key", sorted(BEST_PATHS))
def test_beam_without_lm_is_at_least_as_probable_as_greedy(samples, key):
    log_probs, alphabet, _ = samples[key]
    greedy = decode_greedy(log_probs, alphabet).text
    beam = decode_beam(log_probs, alphabet, width=10)
    assert text_log_likelihood(log_probs, alphabet, beam.text) >= text_log_likelihood(log_probs, alphabet, greedy)
    assert 0.0 <= beam.confidence <= 1.0
    assert [w for w, _ in beam.word_confidences] == beam.text.split()


def test_beam_without_lm_gives_the_published_beam_result(samples):
    log_probs, alphabet, _ = samples[("iam", 0)]
    assert decode_beam(log_probs, alphabet, width=10).text == "the fak friend of the fomcly hae tC"


def test_n_best_is_ranked_and_distinct(samples):
    log_probs, alphabet, _ = samples[("iam", 0)]
    results = prefix_beam_search(log_probs, alphabet, width=10, n_best=5)
    assert len(results) == 5 and len({r.text for r in results}) == 5
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


@pytest.mark.parametrize("folder", ["iam", "bentham"])
def test_beam_with_the_shipped_lm_beats_greedy(samples, shipped_lm, folder):
    keys = [key for key in sorted(BEST_PATHS) if key[0] == folder]
    truths = [samples[key][2] for key in keys]
    greedy = [decode_greedy(*samples[key][:2]).text for key in keys]
    beam = [decode_beam(*samples[key][:2], lm=shipped_lm).text for key in keys]
    assert cer(beam, truths) < cer(greedy, truths)


def test_lm_is_normalised_and_round_trips(tmp_path):
    text = "the cat sat on the mat. the dog sat on the log. " * 20 + "A quick brown fox jumps over it."
    tables, settings = train_lm(text, order=4, min_counts=(1, 1, 2, 2))
    lm = tables_to_lm(tables, settings)
    for context in ["", "th", "the ", "zzz", "sat on t"]:
        assert math.isclose(sum(math.exp(lm.log_prob(c, context)) for c in ALPHABET), 1.0, abs_tol=1e-3)
    assert lm.log_prob("h", "t") > lm.log_prob("q", "t")
    path = str(tmp_path / "lm.tsv.gz")
    save_lm(lm, settings, path)
    loaded = CharNgramLM.load(path)
    assert loaded.order == 4 and loaded.score("the cat") == pytest.approx(lm.score("the cat"), abs=1e-6)


def test_shipped_lm_prefers_english(shipped_lm):
    assert shipped_lm.order == 6 and len(shipped_lm.logprobs) > 100000
    english, misread = "the fake friend of the family", "the fak friend of the fomly"
    assert bits_per_char(shipped_lm, english) < bits_per_char(shipped_lm, misread)


def test_factory(samples):
    log_probs, alphabet, _ = samples[("iam", 0)]
    assert get_decoder("greedy")(log_probs, alphabet).text == BEST_PATHS[("iam", 0)]
    assert get_decoder("beam", width=10)(log_probs, alphabet).text == "the fak friend of the fomcly hae tC"
    with pytest.raises(ValueError):
        get_decoder("viterbi")


def test_bench_decoders_without_test_data_is_one_line_not_a_crash(tmp_path):
    done = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "utils", "bench_decoders.py"), "--seconds", "0"],
                          env={**os.environ, "OCR_TESTDATA_DIR": str(tmp_path)}, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: no CTC matrices") and len(done.stderr.splitlines()) == 1
