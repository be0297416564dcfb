"""CTC decoders: greedy (best path), prefix beam search with an optional character LM, lexicon search.

Every decoder takes a T x C matrix of probabilities or natural-log probabilities (detected, or say which with
``log_probs=True/False``), the alphabet of the non-blank columns and the blank column (default last), and
returns a ``Decoded(text, confidence, word_confidences, score, path)``; see ``ocr.decode.ctc`` for the conventions.

    decoder = get_decoder("beam", width=10, lm="default")
    decoded = decoder(probs)                      # alphabet=ocr.core.alphabet.ALPHABET, blank = last column
"""
import functools
import json
import os
from collections.abc import Callable
from typing import Any

from ocr.decode.beam_search import decode_beam, prefix_beam_search
from ocr.decode.ctc import Decoded
from ocr.decode.distance import EditCosts, weighted_distance
from ocr.decode.greedy import decode_greedy
from ocr.decode.lexicon import Lexicon, LexiconCorrector, decode_lexicon
from ocr.decode.lm import DECODING_DIR, DEFAULT_LM_PATH, CharNgramLM

DECODERS = ("greedy", "beam", "lexicon")
BEAM_SETTINGS_PATH = os.path.join(DECODING_DIR, "beam_lm.json")   # alpha/beta tuned for the shipped LM


def tuned_beam_settings() -> dict[str, float]:
    """The beam options tuned for the shipped LM and recogniser ({} when not tuned yet): width, alpha, beta."""
    if not os.path.exists(BEAM_SETTINGS_PATH):
        return {}
    with open(BEAM_SETTINGS_PATH, encoding="utf-8") as f:
        return {k: v for k, v in json.load(f).items() if k in ("width", "alpha", "beta")}


def load_lm(lm: str | CharNgramLM | None) -> CharNgramLM | None:
    """An LM option -> a CharNgramLM or None: None; 'default' (models/decoding/char_lm.tsv.gz); a file path;
    or a CharNgramLM (returned as is)."""
    if lm is None or isinstance(lm, CharNgramLM):
        return lm
    return CharNgramLM.load(DEFAULT_LM_PATH if lm == "default" else lm)


def get_decoder(name: str, **options: Any) -> Callable[..., Decoded]:
    """A decoder ``f(probs, alphabet=ALPHABET, blank=None, log_probs=None) -> Decoded`` for ``name``:

    * 'greedy': no options;
    * 'beam': width=10, min_prob=3e-3, margin=10.0, lm=None ('default', a path or a CharNgramLM), alpha=0.5,
      beta=1.0;
    * 'lexicon': base='greedy' (or 'beam', then the beam options apply), lexicon=None (English word list;
      a text file path or a Lexicon), costs=None (learned table if present, else unit; a JSON path or an
      EditCosts), max_distance=2.0, max_ratio=0.34, frequency_weight=0.1, rank='distance' (or 'matrix':
      close candidates ranked by the matrix and word frequency, see ocr.decode.lexicon).
    With ``lm='default'``, width/alpha/beta not given default to the tuned ones (models/decoding/beam_lm.json).
    Resources (LM, lexicon, costs) are loaded once, here."""
    if name not in DECODERS:
        raise ValueError("unknown decoder %r (choose from %s)" % (name, ", ".join(DECODERS)))
    if options.get("lm") == "default":
        options = {**tuned_beam_settings(), **options}
    if "lm" in options:
        options["lm"] = load_lm(options["lm"])
    if name == "greedy":
        if options:
            raise TypeError("the greedy decoder takes no options, got %s" % sorted(options))
        return decode_greedy
    if name == "beam":
        return functools.partial(decode_beam, **options)
    lexicon, costs = options.pop("lexicon", None), options.pop("costs", None)
    if isinstance(lexicon, (str, os.PathLike)):
        lexicon = Lexicon.from_text_file(lexicon)
    if isinstance(costs, (str, os.PathLike)):
        costs = EditCosts.load(costs)
    corrector_options = {k: options.pop(k) for k in ("max_distance", "max_ratio", "frequency_weight")
                         if k in options}
    corrector = LexiconCorrector(lexicon, costs, **corrector_options)
    return functools.partial(decode_lexicon, corrector=corrector, **options)


__all__ = ["Decoded", "get_decoder", "decode_greedy", "prefix_beam_search", "decode_beam", "decode_lexicon",
           "CharNgramLM", "Lexicon", "LexiconCorrector", "EditCosts", "weighted_distance", "load_lm"]
