"""Speed (lines/s) and CER of each decoder on the real CTC matrices of ../shared/testdata/ctc, beside pyctcdecode.

Every decoder runs on every matrix repeatedly for at least ``--seconds`` per (decoder, matrix); speed is lines
per second over the 100-step line matrices (iam, bentham), from the process's CPU time (the decoders are
single-threaded; on a shared machine wall time mostly measures the neighbours) and from wall time.
CER is pooled per folder (ocr.metrics.cer), and over all matrices ("CER all"). pyctcdecode (pinned in
requirements.txt) runs at the same beam width with no language model, on the same log-probabilities. Resources
(LM, lexicon) are loaded before timing. A script that prints figures, not a test:

    python utils/bench_decoders.py [--width 10] [--seconds 1.0] [--alpha 0.5 --beta 1.0]
"""
import argparse
import logging
import sys
import time


from ocr.decode import get_decoder
from ocr.decode.testdata import CTC_DIR, all_samples
from ocr.metrics import cer


def pyctcdecode_decoder(width):
    """pyctcdecode's beam search (no LM) wrapped to the same call shape, or None when it is not installed."""
    try:
        logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
        from pyctcdecode import build_ctcdecoder
    except ImportError:
        return None
    built = {}

    def decode(log_probs, alphabet):
        """T x C log-probs -> pyctcdecode's text (its decoder for each alphabet built once)."""
        if alphabet not in built:
            built[alphabet] = build_ctcdecoder(list(alphabet) + [""])
        return built[alphabet].decode(log_probs, beam_width=width)
    return decode


def timed(decode, log_probs, alphabet, seconds):
    """(text, CPU seconds per call, wall seconds per call) of ``decode`` repeated for at least ``seconds``."""
    result = decode(log_probs, alphabet)
    text = getattr(result, "text", result)
    calls, cpu, wall = 0, time.process_time(), time.perf_counter()
    while time.perf_counter() - wall < seconds:
        decode(log_probs, alphabet)
        calls += 1
    return text, (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def main(argv=None):
    """Print the table of speeds and CERs (see the module doc)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int, default=10, help="beam width of every beam decoder")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timing per decoder and matrix")
    parser.add_argument("--alpha", type=float, default=0.5, help="LM weight of the +LM decoders")
    parser.add_argument("--beta", type=float, default=1.0, help="per-character bonus of the +LM decoders")
    args = parser.parse_args(argv)
    samples = all_samples()
    if not samples:
        print("error: no CTC matrices (mat_N.csv) under %s: the real test data is not there "
              "(put ../shared/testdata beside the repository or set OCR_TESTDATA_DIR)" % CTC_DIR, file=sys.stderr)
        return 1
    width, lm_options = args.width, {"lm": "default", "alpha": args.alpha, "beta": args.beta}
    decoders = {
        "greedy": get_decoder("greedy"),
        "beam": get_decoder("beam", width=width),
        "beam+LM": get_decoder("beam", width=width, **lm_options),
        "lexicon(greedy)": get_decoder("lexicon"),
        "lexicon(matrix)": get_decoder("lexicon", rank="matrix"),
        "lexicon(beam+LM)": get_decoder("lexicon", base="beam", width=width, **lm_options),
    }
    reference = pyctcdecode_decoder(width)
    if reference is not None:
        decoders["pyctcdecode"] = lambda lp, alphabet: reference(lp, alphabet)
    folders = sorted({name.split("/")[0] for name, *_ in samples})
    print("%d matrices (%s), beam width %d, LM alpha %g beta %g, >= %.1f s per decoder and matrix"
          % (len(samples), ", ".join("%s %dx%d" % (n, lp.shape[0], lp.shape[1]) for n, lp, _, _ in samples),
             width, args.alpha, args.beta, args.seconds))
    header = "%-18s %11s %12s" % ("decoder", "lines/s CPU", "lines/s wall") + "".join(
        " %11s" % ("CER " + f) for f in folders) + " %9s" % "CER all" + "  text on iam/0"
    print(header)
    print("-" * len(header))
    for name, decode in decoders.items():
        texts, cpu, wall = {}, {}, {}
        for sample_name, log_probs, alphabet, _ in samples:
            texts[sample_name], cpu[sample_name], wall[sample_name] = timed(decode, log_probs, alphabet, args.seconds)
        long_lines = [s for s, lp, _, _ in samples if lp.shape[0] == 100]
        row = "%-18s %11.1f %12.1f" % (name, len(long_lines) / sum(cpu[s] for s in long_lines),
                                       len(long_lines) / sum(wall[s] for s in long_lines))
        for folder in folders:
            chosen = [(texts[s], truth) for s, _, _, truth in samples if s.startswith(folder + "/")]
            row += " %10.1f%%" % (100 * cer([t for t, _ in chosen], [g for _, g in chosen]))
        row += " %8.1f%%" % (100 * cer([texts[s] for s, *_ in samples], [truth for *_, truth in samples]))
        print(row + "  " + repr(texts.get("iam/0")))


if __name__ == "__main__":
    sys.exit(main())
