"""IAM-OnDB reader, pen renderer and the mixed line source, on small IAM-OnDB-format trees the tests write."""
import json
import os

import numpy as np
import pytest

from ocr.core.alphabet import encode
from ocr.data import iamondb
from ocr.data.iamondb import IAMOnDBError, detokenize, form_sessions, load_iamondb, read_strokes, split_lines
from ocr.core.ink import FAINT_INK, WORD_MARGIN, ink_box, ink_mask
from ocr.data.line_mix import LineSpec, MixedLineSet, epoch_specs, render_spec, word_bank
from ocr.data.pen import PEN_KINDS, WriterStyle, compose_line, render_line, word_groups


def word_strokes(x0, letters=3, height=300.0, t0=0.0):
    """Strokes of a fake word: ``letters`` zig-zag strokes 120 tablet units apart, starting at ``x0``."""
    strokes = []
    for k in range(letters):
        xs = x0 + 120 * k + np.linspace(0, 90, 12)
        ys = 1000 + height * np.abs(np.sin(np.linspace(0, 3, 12)))
        ts = t0 + 0.01 * np.arange(12) + k
        strokes.append(np.stack([xs, ys, ts], axis=1).astype(np.float32))
    return strokes


def line_strokes(words, t0=0.0):
    """Strokes of a fake line of ``words`` words of 3 letters, 600 tablet units apart."""
    return [s for w in range(words) for s in word_strokes(600 * w, t0=t0 + 10 * w)]


def write_strokes(path, strokes):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    points = "".join(
        "<Stroke>%s</Stroke>" % "".join('<Point x="%d" y="%d" time="%.2f"/>' % tuple(p) for p in s) for s in strokes)
    with open(path, "w", encoding="latin-1") as f:
        f.write('<?xml version="1.0" encoding="ISO-8859-1"?><WhiteboardCaptureSession><StrokeSet>%s</StrokeSet>'
                '</WhiteboardCaptureSession>' % points)


def write_form(root, form_id, csr_lines, t0=0.0, stroke_lines=None):
    """An ascii/ file with ``csr_lines`` and one lineStrokes file per line (``stroke_lines`` of them)."""
    a, b = form_id[:3], form_id[:7]
    os.makedirs(os.path.join(root, "ascii", a, b), exist_ok=True)
    with open(os.path.join(root, "ascii", a, b, form_id + ".txt"), "w", encoding="latin-1") as f:
        f.write("OCR:\n\nsomething printed\n\nCSR:\n\n" + "\n".join(csr_lines) + "\n")
    for n in range(1, (stroke_lines or len(csr_lines)) + 1):
        words = len(detokenize(csr_lines[min(n, len(csr_lines)) - 1]).split())
        write_strokes(os.path.join(root, "lineStrokes", a, b, "%s-%02d.xml" % (form_id, n)),
                      line_strokes(words, t0 + 60 * n))


@pytest.fixture
def tree(tmp_path):
    root = str(tmp_path / "iamondb")
    write_form(root, "a01-000u", ["A MOVE to stop Mr . Gaitskell", "Mr . Foot ' s line"], t0=1000)
    write_form(root, "a01-001w", ["black - listed by the", "which would appear to \" prop up \" an"], t0=1200)
    write_form(root, "b02-100", ["one two three"], t0=900000)
    write_form(root, "b02-101", ["four five", "six"], t0=990000, stroke_lines=3)    # unpaired: 3 files, 2 lines
    write_form(root, "c03-200", ["seven eight"], t0=5000000)
    with open(os.path.join(root, "lineStrokes", "c03", "c03-200", "c03-200-01.xml"), "w") as f:
        f.write("<broken")                                                            # unreadable
    return root


def test_detokenize_follows_iam_xml_conventions():
    assert detokenize("A MOVE to stop Mr . Gaitskell") == "A MOVE to stop Mr. Gaitskell"
    assert detokenize("Mr .Foot ' s line") == "Mr. Foot's line"
    assert detokenize("resolution . \" Abolish Lords \" .") == 'resolution. "Abolish Lords".'
    assert detokenize("do n't go ( now ) , said he :") == "don't go (now), said he:"
    assert detokenize("black - listed") == "black-listed"
    assert detokenize("These plans - not give") == "These plans - not give"
    assert detokenize("Foot - Griffiths", frozenset({"foot-griffiths"})) == "Foot-Griffiths"
    assert detokenize("a [ note ]") == "a (note)"


def test_load_pairs_lines_skips_bad_files_and_reserved_forms(tree):
    messages = []
    lines = load_iamondb(tree, exclude_forms=frozenset({"a01-001w"}), log=messages.append)
    assert [line.line_id for line in lines] == ["a01-000u-01", "a01-000u-02", "b02-100-01"]
    assert [line.text for line in lines] == ["A MOVE to stop Mr. Gaitskell", "Mr. Foot's line", "one two three"]
    assert all(s.shape[1] == 3 and s.dtype == np.float32 for s in lines[0].strokes)
    assert len(messages) == 1
    assert "3 lines from 2 forms" in messages[0]
    assert "2 reserved, 3 unpaired, 1 unreadable" in messages[0]


def test_reserved_forms_file_is_read_and_applied_by_default(tree, tmp_path, monkeypatch):
    reserved = tmp_path / "reserved.txt"
    reserved.write_text("# comment\na01-000u\n")
    monkeypatch.setattr(iamondb, "RESERVED_FORMS_FILE", str(reserved))
    assert iamondb.read_reserved_forms(str(reserved)) == {"a01-000u"}
    lines = load_iamondb(tree, log=lambda m: None)
    assert "a01-000u" not in {line.form_id for line in lines}


def test_missing_tree_is_one_error(tmp_path):
    with pytest.raises(IAMOnDBError, match="lineStrokes"):
        load_iamondb(str(tmp_path), log=lambda m: None)
    with pytest.raises(ValueError, match="unreadable"):
        read_strokes(str(tmp_path / "none.xml"))


def test_sessions_group_forms_recorded_close_in_time_and_splits_keep_them_together(tree):
    lines = load_iamondb(tree, exclude_forms=frozenset(), log=lambda m: None)
    sessions = form_sessions(lines)
    assert sessions["a01-000u"] == sessions["a01-001w"]          # 200 s apart: one writer's session
    assert sessions["b02-100"] != sessions["a01-000u"]
    for seed in range(5):
        parts = split_lines(lines, (0.5, 0.25, 0.25), seed)
        roles = {}
        for role, part in parts.items():
            for line in part:
                roles.setdefault(sessions[line.form_id], set()).add(role)
        assert all(len(r) == 1 for r in roles.values())
        assert sum(len(p) for p in parts.values()) == len(lines)


def test_render_is_seeded_and_looks_like_ink_on_paper():
    strokes = line_strokes(3)
    a = render_line(strokes, np.random.default_rng(5))
    b = render_line(strokes, np.random.default_rng(5))
    c = render_line(strokes, np.random.default_rng(6))
    assert a.dtype == np.uint8 and a.ndim == 2
    assert np.array_equal(a, b)
    assert a.shape != c.shape or not np.array_equal(a, c)
    assert np.percentile(a, 50) > 150                               # mostly paper
    assert a.min() < 130                                            # with dark ink
    assert 1.5 < a.shape[1] / a.shape[0] < 20                       # a line, wider than tall


@pytest.mark.parametrize("pen", PEN_KINDS)
def test_every_pen_kind_draws_ink(pen):
    style = WriterStyle.draw(np.random.default_rng(0))
    style.pen = pen
    image = render_line(line_strokes(2), np.random.default_rng(1), style)
    assert (image < np.percentile(image, 90) - 40).mean() > 0.005


def test_word_groups_follow_gaps_only_when_they_agree_with_the_word_count():
    strokes = line_strokes(4)
    groups = word_groups(strokes, ["abc"] * 4)
    assert groups == [[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]]
    assert word_groups(strokes, ["abc"] * 6) is None            # two more words than gaps
    assert word_groups(strokes, ["abc"] * 2) is None            # 3 equal gaps cannot make 2 words


def test_word_groups_whose_widths_disagree_with_their_words_are_refused():
    """A stray mark before a line whose last two words run together gives the right count of wrong groups."""
    stray = [np.array([[-400, 1000, 0], [-360, 1200, 0.01]], np.float32)]
    run_together = word_strokes(0) + word_strokes(360) + word_strokes(1200)     # 'one two' with no gap, then 'six'
    assert word_groups(stray + run_together, ["the", "one", "two"]) is None
    assert word_groups(stray + run_together, [",", "onetwo", "six"]) is not None   # the same groups, texts that fit


def test_composed_line_keeps_words_in_order_on_one_baseline():
    rng = np.random.default_rng(0)
    words = [word_strokes(0), word_strokes(5000, letters=2), word_strokes(-3000)]
    strokes = compose_line(words, rng)
    assert len(strokes) == 8
    firsts = [strokes[0][:, 0].min(), strokes[3][:, 0].min(), strokes[5][:, 0].min()]
    assert firsts[0] < firsts[1] < firsts[2]
    medians = [np.median(np.concatenate(strokes[i:j])[:, 1]) for i, j in ((0, 3), (3, 5), (5, 8))]
    assert np.ptp(medians) < 1e-3


def test_mixed_epoch_and_items(tree):
    lines = load_iamondb(tree, exclude_forms=frozenset(), log=lambda m: None)
    bank = word_bank(lines)
    assert set(bank["words"]) == {"a01-000u", "a01-001w", "b02-100"}
    rng = np.random.default_rng(0)
    specs, texts = epoch_specs(rng, font_rows=5, pen_rows=len(lines), items=20, pen_share=0.5, composed_share=0.4,
                               bank=bank, max_chars=60, pen_texts=[line.text for line in lines])
    kinds = [s.kind for s in specs]
    assert len(specs) == 20 and kinds.count("font") == 10 and kinds.count("composed") == 4
    for spec, text in zip(specs, texts):
        if spec.kind == "composed":
            forms = {lines[i].form_id for i, _ in spec.ref}
            assert len(forms) == 1
            words = [lines[i].text.split()[k] for i, k in spec.ref]
            assert text == " ".join(words)
    fonts = [(np.full((60, 1200), 255, np.uint8), None)] * 5
    labels = [encode(t) if t is not None else encode("x") for t in texts]
    dataset = MixedLineSet(specs, labels, fonts, lines, bank, (60, 1200))
    for i in range(len(dataset)):
        image, _ = dataset[i]
        assert image.shape == (60, 1200) and image.dtype == np.uint8
    pen = [i for i, s in enumerate(specs) if s.kind != "font"][0]
    assert np.array_equal(dataset[pen][0], dataset[pen][0])
    assert isinstance(specs[pen], LineSpec)


def test_short_composed_lines_hold_one_or_two_words_and_leave_the_mix_alone_when_off(tree):
    lines = load_iamondb(tree, exclude_forms=frozenset(), log=lambda m: None)
    bank, texts = word_bank(lines), [line.text for line in lines]

    def epoch(**short):
        return epoch_specs(np.random.default_rng(3), 5, len(lines), 40, 0.5, 0.5, bank, 60, texts, **short)

    assert epoch() == epoch(short_share=0.0)
    specs, composed = epoch(short_share=1.0)
    lengths = [len(text.split()) for spec, text in zip(specs, composed) if spec.kind == "composed"]
    assert len(lengths) == 10 and max(lengths) <= 2
    assert max(len(text.split()) for spec, text in zip(*epoch()) if spec.kind == "composed") >= 3
    word = next(spec for spec in specs if spec.kind == "composed" and len(spec.ref) == 1)
    image = render_spec(word, lines, bank, None)               # cut as the reader cuts a word crop
    x, y, w, h = ink_box(ink_mask(image, depth=FAINT_INK))
    assert (y, image.shape[0] - y - h) == (round(WORD_MARGIN * h),) * 2


def test_font_words_take_their_share_of_the_font_items_and_leave_the_mix_alone_when_off(tree):
    lines = load_iamondb(tree, exclude_forms=frozenset(), log=lambda m: None)
    bank, texts = word_bank(lines), [line.text for line in lines]

    def epoch(**words):
        return epoch_specs(np.random.default_rng(3), 5, len(lines), 40, 0.5, 0.5, bank, 60, texts, **words)

    assert epoch() == epoch(word_rows=7, word_share=0.0) == epoch(word_rows=0, word_share=0.5)
    specs, _ = epoch(word_rows=7, word_share=0.5)
    kinds = [spec.kind for spec in specs]
    assert kinds.count("font_word") == 10 and kinds.count("font") == 10
    assert {spec.ref for spec in specs if spec.kind == "font_word"} == set(range(7))   # all rows before repeats
    fonts = [(np.full((60, 1200), 255, np.uint8), None)] * 5
    word = np.full((20, 50), 255, np.uint8)
    word[5:15, 10:40] = 0

    class Words:
        def original_image(self, row):
            return word

    dataset = MixedLineSet(specs, [encode("x")] * len(specs), fonts, lines, bank, (60, 1200), None, Words())
    image, _ = dataset[kinds.index("font_word")]
    assert image.shape == (60, 1200)
    ys, xs = np.nonzero(image < 128)
    assert ys.min() == 15 and ys.max() == 44            # 10 px of ink + 5 px margins either way, scaled by 3


def test_form_weights_draw_hard_hands_more_often_and_leave_the_mix_alone_when_off(tree):
    lines = load_iamondb(tree, exclude_forms=frozenset(), log=lambda m: None)
    bank, texts, forms = word_bank(lines), [line.text for line in lines], [line.form_id for line in lines]

    def epoch(**weights):
        return epoch_specs(np.random.default_rng(3), 5, len(lines), 400, 0.5, 0.5, bank, 60, texts, **weights)

    assert epoch() == epoch(pen_forms=forms, form_weights=None)
    heavy = {"b02-100": 50.0, "a01-000u": 0.5}                  # a01-001w: 1.0, not listed
    specs, _ = epoch(pen_forms=forms, form_weights=heavy)

    def drawn(kind):
        return [lines[s.ref if kind == "pen" else s.ref[0][0]].form_id for s in specs if s.kind == kind]

    for kind in ("pen", "composed"):
        share = drawn(kind).count("b02-100") / len(drawn(kind))
        assert share > 0.85, (kind, share)
    plain = [lines[s.ref].form_id for s in epoch()[0] if s.kind == "pen"]
    assert plain.count("b02-100") / len(plain) < 0.6


def test_form_weights_are_read_from_the_scorer_tsv_and_bad_files_are_named(tmp_path):
    from ocr.data.line_mix import read_form_weights
    path = tmp_path / "w.tsv"
    path.write_text("form_id\tlines\tcer_percent\tweight\na01-000u\t8\t12.50\t1.800\nb02-100\t7\t2.00\t0.500\n")
    assert read_form_weights(str(path)) == {"a01-000u": 1.8, "b02-100": 0.5}
    for bad in ("a01-000u\t8\t12.5\t1.8\n", "form_id\tlines\tcer_percent\tweight\na01\t8\t12.5\t0\n",
                "form_id\tlines\tcer_percent\tweight\na01\t8\t12.5\tnan\n",
                "form_id\tlines\tcer_percent\tweight\na01\t8\n"):
        path.write_text(bad)
        with pytest.raises(ValueError, match="w.tsv"):
            read_form_weights(str(path))


def test_scorer_weights_forms_by_their_cer_against_the_pooled_cer():
    from tests.conftest import utils_script
    scorer = utils_script("score_pen_forms")
    weights = scorer.form_weights({"easy": 0, "mid": 10, "hard": 50}, {"easy": 100, "mid": 100, "hard": 100}, 0.5, 3)
    assert weights == {"easy": 0.5, "mid": 0.5, "hard": 2.5}           # pooled CER 20%: 0 / 0.5 / 2.5, clipped
    assert scorer.form_weights({"a": 0}, {"a": 10}, 0.5, 3) == {"a": 1.0}


def test_trainer_mixes_rendered_pen_lines_and_records_them(tmp_path):
    from ocr.recognition import train as cli
    from tests.test_training import _cli_args, make_iam_tree
    root = str(tmp_path / "iamondb")
    for k in range(40):        # 40 sessions of one form each (a day apart), two lines a form
        write_form(root, "x%02d-%03dz" % (k, k), ["one two three", "four five"], t0=86400.0 * k)
    iam = make_iam_tree(tmp_path / "iam")
    weights = tmp_path / "weights.tsv"
    weights.write_text("form_id\tlines\tcer_percent\tweight\nx00-000z\t2\t40.0\t3.0\n")
    history = cli.main(_cli_args(tmp_path, iam) + ["--iamondb", root, "--epoch-items", "12", "--pen-share", "0.5",
                                                   "--pen-warp", "0.1", "--pen-weights", str(weights)])
    assert len(history) == 1
    assert {"val_cer", "font_val_cer"} <= set(history[0])        # validation on pen lines and on font lines
    info = json.loads((tmp_path / "ckpt" / "line.json").read_text())
    record = info["training"]["iamondb"]
    assert record["epoch_items"] == 12 and record["pen_share"] == 0.5 and info["hyperparameters"]["pen_warp"] == 0.1
    assert record["form_weights"] == str(weights)
    forms = record["forms"]
    assert forms["train"] and forms["validation"] and forms["test"]
    assert not set(forms["train"]) & (set(forms["validation"]) | set(forms["test"]))
    assert {"test_cer", "font_test_cer"} <= set(info["test_metrics"])


def test_the_shape_warp_moves_strokes_smoothly_and_only_when_asked():
    from ocr.data.pen import warp_strokes
    stroke = np.stack([np.arange(300, dtype=np.float32), np.zeros(300, np.float32), np.ones(300, np.float32)], 1)
    warped = warp_strokes([stroke], 0.1, 30.0, np.random.default_rng(0))[0]
    moved = warped[:, :2] - stroke[:, :2]
    assert 0.5 < np.abs(moved).max() < 5 * 0.1 * 30                 # visible, within a few standard deviations
    assert np.abs(np.diff(moved, axis=0)).max() < 0.5                # neighbouring points move alike (1 px apart)
    assert np.array_equal(warped[:, 2], stroke[:, 2])                # pressure kept
    strokes = line_strokes(2)
    plain = render_line(strokes, np.random.default_rng(5))
    assert np.array_equal(plain, render_line(strokes, np.random.default_rng(5), warp=0.0))
    shaped = render_line(strokes, np.random.default_rng(5), warp=0.12)
    assert np.array_equal(shaped, render_line(strokes, np.random.default_rng(5), warp=0.12))   # seeded
    assert plain.shape != shaped.shape or not np.array_equal(plain, shaped)
