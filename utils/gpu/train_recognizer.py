"""Fine-tune the shipped line recogniser on a GPU with PyTorch, for a fixed wall-clock budget (no MXNet needed).

    python utils/gpu/train_recognizer.py --data .gpu --model models/handwriting_line --out OUT --minutes 7

For a machine that has PyTorch and a GPU but no MXNet. The network is ``TorchLineRecognizer``, a layer-for-layer
mirror of ``ocr.recognition.net.LineRecognizer`` that reads and writes the Gluon parameter names and layouts
(``read_gluon_params`` parses MXNet's .params format with numpy). The data are those of the MXNet trainer
(``ocr.data.line_mix``: IAM-OnDB lines rendered afresh, lines composed from one form's words, short lines, font
lines and font words, all augmented as there), drawn from ``utils/gpu/pack_recognizer_data.py``'s pack by many
worker processes. Every --eval-seconds the held-out IAM-OnDB validation lines (the MXNet trainer's 400) and font
validation lines are read greedily; the best weights by IAM-OnDB validation CER are written to OUT as
``best_a.npz`` + ``best_b.npz`` (Gluon names; two files, each under 16 MB), the last as ``last_*.npz``, and one
row per evaluation to ``log.tsv``. ``utils/gpu/import_recognizer.py`` turns them into a model.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import types

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "utils", "gpu"))
# ocr/__init__.py refuses any Python but 3.11 (the pinned MXNet stack); this script uses only the package's numpy
# and OpenCV data code, so it registers the package without running that check.
_package = types.ModuleType("ocr")
_package.__path__ = [os.path.join(ROOT, "ocr")]
sys.modules.setdefault("ocr", _package)

from ocr.core.alphabet import NUM_CLASSES, encode  # noqa: E402
from ocr.data.line_mix import COMPOSED_MAX_CHARS, MixedLineSet, epoch_specs, held_out_specs  # noqa: E402
from ocr.metrics import cer  # noqa: E402
from ocr.recognition.augment import AugmentParams  # noqa: E402
from ocr.recognition.config import STAGE_CHANNELS  # noqa: E402
from gluon_params import read_gluon_params  # noqa: E402
from pack_recognizer_data import read_font, read_pen, save_npz  # noqa: E402

PACK_B = ("rnn._unfused.1.",)            # parameters written to the second file (the second LSTM layer)


class TorchLineRecognizer(nn.Module):
    """(N, 1, H, W) standardised lines -> (N, T, num_classes) CTC scores: ocr.recognition.net.LineRecognizer in
    PyTorch (same layers, order and parameter shapes). ``input_height``: H, which the trunk halves four times."""

    def __init__(self, width: int, num_downsamples: int, rnn_hidden: int, rnn_layers: int, dropout: float,
                 num_classes: int, input_height: int = 60) -> None:
        super().__init__()
        layers, channels = [], 1
        for stage, unit in enumerate(STAGE_CHANNELS):
            for _ in range(2 if stage >= 2 else 1):
                layers.append(nn.Sequential(nn.Conv2d(channels, unit * width, 3, padding=1, bias=False),
                                            nn.BatchNorm2d(unit * width, eps=1e-5, momentum=0.1), nn.ReLU()))
                channels = unit * width
            pool = (2, 2) if stage < num_downsamples else (2, 1)
            layers.append(nn.MaxPool2d(pool, pool))
        self.trunk = nn.Sequential(*layers)
        self.rnn_layers = rnn_layers
        self.rnn = nn.LSTM(channels * (input_height // 16), rnn_hidden, num_layers=rnn_layers, bidirectional=True,
                           dropout=dropout if rnn_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(2 * rnn_hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)                                         # (N, C, H', T)
        n, c, h, t = features.shape
        columns = features.reshape(n, c * h, t).permute(2, 0, 1)         # (T, N, C*H')
        out, _ = self.rnn(columns)
        return self.classifier(self.dropout(out)).permute(1, 0, 2)       # (N, T, classes)

    def _pairs(self) -> list[tuple[str, str]]:
        """(Gluon name, torch state_dict name) of every parameter and BatchNorm statistic."""
        pairs = []
        for i, layer in enumerate(self.trunk):
            if isinstance(layer, nn.Sequential):
                pairs.append(("trunk.%d.0.weight" % i, "trunk.%d.0.weight" % i))
                for gluon_name, torch_name in (("gamma", "weight"), ("beta", "bias"), ("running_mean", "running_mean"),
                                               ("running_var", "running_var")):
                    pairs.append(("trunk.%d.1.%s" % (i, gluon_name), "trunk.%d.1.%s" % (i, torch_name)))
        for k in range(self.rnn_layers):
            for side, suffix in (("l", ""), ("r", "_reverse")):
                for gluon_name, torch_name in (("i2h_weight", "weight_ih"), ("h2h_weight", "weight_hh"),
                                               ("i2h_bias", "bias_ih"), ("h2h_bias", "bias_hh")):
                    pairs.append(("rnn._unfused.%d.%s_cell.%s" % (k, side, gluon_name),
                                  "rnn.%s_l%d%s" % (torch_name, k, suffix)))
        pairs += [("classifier.weight", "classifier.weight"), ("classifier.bias", "classifier.bias")]
        return pairs

    def load_gluon(self, params: dict[str, np.ndarray]) -> None:
        """Load Gluon-named arrays (all of them; a missing or extra name is an error)."""
        pairs = self._pairs()
        differing = {g for g, _ in pairs} ^ set(params)
        if differing:
            raise ValueError("parameter names differ from the Gluon net's: %s" % sorted(differing)[:5])
        state = self.state_dict()
        for gluon_name, torch_name in pairs:
            if tuple(state[torch_name].shape) != params[gluon_name].shape:
                raise ValueError("%s: shape %s, want %s" % (gluon_name, params[gluon_name].shape,
                                                            tuple(state[torch_name].shape)))
            state[torch_name] = torch.from_numpy(params[gluon_name])
        self.load_state_dict(state)

    def gluon_params(self) -> dict[str, np.ndarray]:
        """The weights as {Gluon name: float32 array}."""
        state = self.state_dict()
        return {g: state[t].detach().float().cpu().numpy() for g, t in self._pairs()}


class FontRows:
    """Packed font images as ``MixedLineSet`` font and word sources: ``[i][0]`` a fitted line,
    ``original_image(i)`` a word crop."""

    def __init__(self, images: list[np.ndarray]) -> None:
        self.images = images

    def __getitem__(self, i: int) -> tuple[np.ndarray]:
        return (self.images[i],)

    def original_image(self, i: int) -> np.ndarray:
        return self.images[i]

    def __len__(self) -> int:
        return len(self.images)


def collate(items: list) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[(uint8 (H, W), int label)] -> (uint8 (N, 1, H, W), int32 concatenated labels, label lengths). Batches
    cross from the workers as uint8 (a quarter of float32's shared memory); ``standardised`` finishes them."""
    labels = [np.asarray(label, np.int32) for _, label in items]
    images = np.stack([image for image, _ in items])[:, None]
    return (torch.from_numpy(images), torch.from_numpy(np.concatenate(labels)),
            torch.tensor([len(label) for label in labels], dtype=torch.int32))


def standardised(images: torch.Tensor, mean: float, std: float, device: torch.device) -> torch.Tensor:
    """uint8 (N, 1, H, W) -> float32 (N, 1, H, W) of (pixel / 255 - mean) / std on ``device``, as
    ocr.recognition.predictor.standardise."""
    return (images.to(device, non_blocking=True).float() / 255.0 - mean) / std


def greedy_texts(scores: torch.Tensor, alphabet: str) -> list[str]:
    """Best-path texts of scores (N, T, C), blank last (ocr.recognition.predictor.greedy_decode, whose package
    needs the decoders' dependencies, which the GPU machine lacks)."""
    texts = []
    for row in scores.argmax(-1).cpu().numpy():
        keep = row[np.concatenate([[True], row[1:] != row[:-1]])]
        texts.append("".join(alphabet[c] for c in keep if c != len(alphabet)))
    return texts


def save_params(params: dict[str, np.ndarray], out: str, stem: str) -> None:
    """Write ``params`` as ``stem_a.npz`` and ``stem_b.npz`` (the PACK_B names) in ``out``, each atomically."""
    save_npz(os.path.join(out, stem + "_a.npz"), {k: v for k, v in params.items() if not k.startswith(PACK_B)})
    save_npz(os.path.join(out, stem + "_b.npz"), {k: v for k, v in params.items() if k.startswith(PACK_B)})


def _one_thread(_worker: int) -> None:
    """A data worker's OpenCV uses one thread (the workers already fill the cores)."""
    import cv2
    cv2.setNumThreads(1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder of pack_recognizer_data.py's pen.npz and font.npz")
    p.add_argument("--model", required=True, help="model stem to start from (<stem>.params, <stem>.json)")
    p.add_argument("--out", required=True)
    p.add_argument("--minutes", type=float, default=7.0, help="training wall-clock budget")
    p.add_argument("--eval-seconds", type=float, default=45.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4, help="peak learning rate (warm-up, then cosine over the budget)")
    p.add_argument("--workers", type=int, default=max(1, min(32, len(os.sched_getaffinity(0)) - 2)),
                   help="data worker processes (default: the cores this process may use, less 2, at most 32)")
    p.add_argument("--items", type=int, default=800_000, help="lines drawn (more than the budget can use)")
    p.add_argument("--seed", type=int, default=21)
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps (smoke tests)")
    args = p.parse_args(argv)
    started = time.time()
    os.makedirs(args.out, exist_ok=True)
    with open(args.model + ".json", encoding="utf-8") as f:
        card = json.load(f)
    mean, std = card["input"]["mean"], card["input"]["std"]
    size = tuple(card["input"]["fit_size"])
    hyper = card["hyperparameters"]["augmentation"]
    augment = AugmentParams(**hyper)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    net = TorchLineRecognizer(**card["network"], input_height=size[0])
    net.load_gluon(read_gluon_params(args.model + ".params"))

    pen, bank = read_pen(os.path.join(args.data, "pen.npz"))
    font = read_font(os.path.join(args.data, "font.npz"))
    print("data: %d IAM-OnDB training lines (%d split into words), %d validation; %d font lines, %d font words "
          "(%.0f s)" % (len(pen["train"]), len(bank["groups"]), len(pen["validation"]), len(font["line"][0]),
                        len(font["word"][0]), time.time() - started), flush=True)
    train_pen = pen["train"]
    rng = np.random.default_rng(args.seed)
    mix = card["training"]["iamondb"]        # the shares the base model was trained with
    specs, texts = epoch_specs(rng, len(font["line"][0]), len(train_pen), args.items, mix["pen_share"],
                               mix["composed_share"], bank, COMPOSED_MAX_CHARS, [line.text for line in train_pen],
                               mix["short_share"], len(font["word"][0]), card["training"]["font_words"]["share"],
                               [line.form_id for line in train_pen], None)
    font_labels = {"font": font["line"][1], "font_word": font["word"][1]}
    labels = [encode(font_labels[s.kind][s.ref] if s.kind in font_labels else t) for s, t in zip(specs, texts)]
    train_set = MixedLineSet(specs, labels, FontRows(font["line"][0]), train_pen, bank, size, augment,
                             FontRows(font["word"][0]))
    val_pen = MixedLineSet(held_out_specs(len(pen["validation"])), [encode(l.text) for l in pen["validation"]],
                           None, pen["validation"], None, size)
    loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch, shuffle=False, drop_last=True,
                                         num_workers=args.workers, collate_fn=collate,
                                         worker_init_fn=_one_thread, prefetch_factor=4)
    batches = iter(loader)          # the workers start (and fork) before CUDA is initialised in this process
    net.to(device)
    val_images = standardised(collate([val_pen[i] for i in range(len(val_pen))])[0], mean, std, device)
    val_font = standardised(collate([(image, encode(text)) for image, text in zip(*font["val_line"])])[0], mean, std,
                            device)
    val_refs = [l.text for l in pen["validation"]]
    alphabet = card["alphabet"]

    def evaluate() -> tuple[float, float]:
        net.eval()
        with torch.no_grad():
            pen_h = greedy_texts(net(val_images), alphabet)
            font_h = greedy_texts(net(val_font), alphabet)
        net.train()
        return cer(pen_h, val_refs), cer(font_h, font["val_line"][1])

    optimizer = torch.optim.Adam(net.parameters(), lr=args.lr)
    ctc = nn.CTCLoss(blank=NUM_CLASSES - 1, reduction="none", zero_infinity=True)
    budget = args.minutes * 60
    log = open(os.path.join(args.out, "log.tsv"), "w", encoding="utf-8")
    log.write("seconds\tstep\tlines\tlr\ttrain_loss\tval_cer\tfont_val_cer\n")
    val_cer, font_cer = evaluate()
    best = val_cer
    print("start: IAM-OnDB validation CER %.4f, font validation CER %.4f (%.0f s)"
          % (val_cer, font_cer, time.time() - started), flush=True)
    log.write("0\t0\t0\t0\tnan\t%.5f\t%.5f\n" % (val_cer, font_cer))
    save_params(net.gluon_params(), args.out, "best")
    train_start = last_eval = time.time()
    step, losses = 0, []
    net.train()
    for images, flat_labels, lengths in batches:
        elapsed = time.time() - train_start
        fraction = min(1.0, elapsed / budget)
        lr = args.lr * min(1.0, (step + 1) / 300) * (0.05 + 0.95 * 0.5 * (1 + np.cos(np.pi * fraction)))
        for group in optimizer.param_groups:
            group["lr"] = lr
        scores = net(standardised(images, mean, std, device))
        log_probs = torch.log_softmax(scores.float(), -1).permute(1, 0, 2)
        steps = torch.full((scores.shape[0],), scores.shape[1], dtype=torch.int32)
        loss = ctc(log_probs, flat_labels.to(device), steps, lengths).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(net.parameters(), card["hyperparameters"]["clip_norm"])
        optimizer.step()
        losses.append(loss.item())
        step += 1
        done = elapsed >= budget or (args.max_steps is not None and step >= args.max_steps)
        if done or time.time() - last_eval >= args.eval_seconds:
            last_eval = time.time()
            val_cer, font_cer = evaluate()
            print("%5.0f s  step %6d  lines %7d (%.0f/s)  lr %.2e  loss %.3f  val CER %.4f  font val CER %.4f"
                  % (elapsed, step, step * args.batch, step * args.batch / max(elapsed, 1e-9), lr, np.mean(losses),
                     val_cer, font_cer), flush=True)
            log.write("%.0f\t%d\t%d\t%.3g\t%.4f\t%.5f\t%.5f\n"
                      % (elapsed, step, step * args.batch, lr, np.mean(losses), val_cer, font_cer))
            log.flush()
            losses = []
            if val_cer < best:
                best = val_cer
                save_params(net.gluon_params(), args.out, "best")
        if done:
            break
    save_params(net.gluon_params(), args.out, "last")
    print("done: %d steps, %d lines in %.0f s; best IAM-OnDB validation CER %.4f"
          % (step, step * args.batch, time.time() - train_start, best), flush=True)
    log.close()


if __name__ == "__main__":
    main()
