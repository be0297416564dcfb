"""The one training loop of the toolkit: epochs, logged metrics, atomic checkpoints, keep-best, resume, loss curve.

A model plugs in three callables (see ``fit``): ``make_batches(epoch, rng)`` yields training batches,
``loss_fn(net, batch)`` returns the mean loss of a batch (recorded by autograd), ``evaluate(net)`` returns a dict
of held-out metrics; and its model card (ocr.core.card.ModelCard). Per epoch the loop writes:

* ``<log_dir>/<name>.jsonl``: one JSON object per epoch (epoch, step, train_loss, seconds, lr, the metrics);
* ``<checkpoint_dir>/<name>.ckpt``: the latest state (params, optimizer states, next epoch, step, best metric,
  history, loop RNG state), one pickle written temp+rename;
* ``<checkpoint_dir>/<name>.params`` + ``<name>.json``: the weights with the best ``best_metric`` so far and their
  card: the caller's, with the epoch, step and metrics they came from;
* at the end, ``<log_dir>/<name>.png``: train loss and held-out metrics per epoch.

Randomness: the loop's numpy Generator (handed to ``make_batches``) is saved in the checkpoint, and MXNet's RNG
(dropout) is reseeded from (seed, epoch) at every epoch start, so a resumed run replays what a run without
interruption would do from that epoch on.

The checkpoint helpers around the loop (reading checkpoints and warm-start models, refusing to overwrite a run, the
one-line exit of the training CLIs) live here too; ocr.core.trainer is the skeleton that drives them.
"""
import io
import itertools
import json
import os
import pickle
import signal
import sys
import tempfile
import time
from dataclasses import replace
from typing import Callable, Iterable, NoReturn

import mxnet as mx
import numpy as np
from mxnet import autograd, gluon
from tqdm import tqdm

from ocr.core.card import ModelCard, read_card, write_card
from ocr.core.loading import ModelLoadError
from ocr.core.paths import atomic_write_bytes, atomic_write_text

CHECKPOINT_KEYS = ("params", "trainer", "epoch", "step", "best", "history", "rng")


def fail(message: str) -> NoReturn:
    """Print ``error: <message>`` (one line) on stderr and exit with status 2 (the training CLIs' answer to bad
    input)."""
    print("error: " + message, file=sys.stderr)
    sys.exit(2)


def check_iam_root(root: str | None, holds: str) -> None:
    """Exit with a one-line error unless ``root`` (the --iam-root flag) is a folder; ``holds`` names what it needs
    (e.g. 'xml/, lines/')."""
    if not root:
        fail("--iam-root is required (an IAM-format tree: %s, split lists)" % holds)
    if not os.path.isdir(root):
        fail("--iam-root %s is not a folder" % root)


def checkpoint_stem(name: str) -> str:
    """The -n/--checkpoint-name flag without a trailing .params (the reference passed 'x.params')."""
    return name[:-len(".params")] if name.endswith(".params") else name


def refuse_existing_run(checkpoint_dir: str, name: str, overwrite: bool, resume_path: str | None = None,
                        how_to_resume: str = "resume it") -> None:
    """Exit with a one-line error when ``checkpoint_dir/name`` (.ckpt or .params) exists, unless ``overwrite`` is
    set or ``resume_path`` is that run's own .ckpt (resuming it is what the checkpoint is for)."""
    own_ckpt = os.path.abspath(os.path.join(checkpoint_dir, name + ".ckpt"))
    if overwrite or (resume_path and os.path.abspath(resume_path) == own_ckpt):
        return
    if any(os.path.exists(os.path.join(checkpoint_dir, name + ext)) for ext in (".ckpt", ".params")):
        fail("%s/%s already exists: %s, pick another -n, or pass --overwrite"
             % (checkpoint_dir, name, how_to_resume))


def _saved_bytes(save):
    """Bytes of a file written by ``save(path)`` (MXNet only saves to paths)."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "blob")
        save(path)
        with open(path, "rb") as f:
            return f.read()


def _load_bytes(load, data):
    """Call ``load(path)`` on a temp file holding ``data``."""
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "blob")
        with open(path, "wb") as f:
            f.write(data)
        load(path)


def save_params(net: gluon.Block, path: str) -> None:
    """Write the net's parameters to ``path`` atomically (MXNet .params format)."""
    atomic_write_bytes(path, _saved_bytes(net.save_parameters))


def save_arrays(arrays: dict[str, np.ndarray], path: str) -> None:
    """Write named numpy arrays to ``path`` atomically as an MXNet .params file (what save_params writes for a net)."""
    atomic_write_bytes(path, _saved_bytes(lambda blob: mx.nd.save(blob, {name: mx.nd.array(array, dtype=array.dtype)
                                                                          for name, array in arrays.items()})))


def average_params(snapshots: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """{name: array} of the element-wise means of weight ``snapshots`` of one network (dicts with the same names and
    shapes: the epochs of one run, say), batch-norm statistics included, in the first snapshot's dtypes. Raises
    ValueError naming the first mismatch."""
    if not snapshots:
        raise ValueError("no snapshots to average")
    first = snapshots[0]
    for k, snapshot in enumerate(snapshots[1:], 2):
        if set(snapshot) != set(first):
            raise ValueError("snapshot %d holds other parameters than the first: %s"
                             % (k, ", ".join(sorted(set(snapshot) ^ set(first))[:3])))
        for name, array in snapshot.items():
            if array.shape != first[name].shape:
                raise ValueError("snapshot %d: %s has shape %s, the first %s"
                                 % (k, name, array.shape, first[name].shape))
    return {name: np.mean([s[name].astype(np.float64) for s in snapshots], axis=0).astype(array.dtype)
            for name, array in first.items()}


def save_json(path: str, obj) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")


def _damaged(path, what, error):
    """A ModelLoadError naming ``path`` (a ``what`` that cannot be used) and the reason, in one line."""
    lines = [line for line in str(error).splitlines() if line.strip()] or [type(error).__name__]
    line = next((line[line.index("Check failed"):] for line in lines if "Check failed" in line), lines[0])
    reason = " ".join(line.split())[:200]     # MXNet's message: its check, not the C++ stack trace
    return ModelLoadError("cannot load the %s %s: damaged or not one (%s: %s)" % (what, path, type(error).__name__,
                                                                                 reason))


def load_checkpoint(path: str) -> dict:
    """The dict stored by ``fit`` in a .ckpt file (params/trainer bytes, epoch, step, best, history, rng, extra).
    Raises ModelLoadError (one line naming ``path``) when the file is truncated, damaged or not a checkpoint."""
    try:
        with open(path, "rb") as f:
            checkpoint = pickle.load(f)
        missing = [k for k in CHECKPOINT_KEYS if k not in checkpoint]
        if missing:
            raise ValueError("no %s" % ", ".join(missing))
        _load_bytes(mx.nd.load, checkpoint["params"])
        pickle.loads(checkpoint["trainer"])
    except (OSError, EOFError, ValueError, TypeError, KeyError, AttributeError, IndexError, pickle.UnpicklingError,
            mx.base.MXNetError) as error:
        raise _damaged(path, "training checkpoint", error) from None
    return checkpoint


def read_model(files: tuple[str, str]) -> tuple[str, ModelCard]:
    """(params path, json path) of a model to warm-start from -> (params path, its ModelCard), after checking that
    the weights file reads. Raises ModelLoadError (one line naming the damaged file)."""
    params_path, json_path = files
    try:
        card = read_card(json_path)
    except (OSError, ValueError) as error:         # CardError is a ValueError
        raise _damaged(json_path, "model card", error) from None
    try:
        mx.nd.load(params_path)
    except (OSError, ValueError, mx.base.MXNetError) as error:
        raise _damaged(params_path, "weights file", error) from None
    return params_path, card


def load_weights(net: gluon.Block, params_path: str, ctx: mx.Context) -> None:
    """``net.load_parameters`` with a weights file that does not fit the net as a ModelLoadError naming it."""
    try:
        net.load_parameters(params_path, ctx=ctx)
    except (OSError, ValueError, AssertionError, mx.base.MXNetError) as error:
        raise _damaged(params_path, "weights file", error) from None


def run_cli(main: Callable, argv: list[str] | None = None):
    """Run a training CLI's ``main(argv)`` for ``python -m``: a damaged model or checkpoint file ends in one
    ``error:`` line and exit 2, Ctrl-C in one line and exit 130 (fit saves a resumable checkpoint first).
    Returns what ``main`` returns."""
    try:
        return main(argv)
    except ModelLoadError as error:
        fail(str(error))
    except KeyboardInterrupt as interrupt:
        print("interrupted" + (": %s" % interrupt if str(interrupt) else ""), file=sys.stderr)
        sys.exit(130)


def settle_shapes(net: gluon.Block, shape: tuple[int, ...], ctx: mx.Context) -> None:
    """One forward pass of zeros of ``shape`` (N, C, H, W) in training mode, so that the net's deferred parameter
    shapes are known before weights or optimizer states are loaded into it. Not an inference pass: after one,
    MKL-DNN may keep convolution weights in its own layout, and loading into them fails later, asynchronously
    ('Check failed: to.IsDefaultData()'). BatchNorm running statistics move a little; loading replaces them."""
    with autograd.train_mode():
        net(mx.nd.zeros(shape, ctx=ctx))


def restore(net: gluon.Block, trainer: gluon.Trainer, checkpoint: dict) -> None:
    """Load a checkpoint dict's parameters into ``net`` and optimizer states into the gluon ``trainer``; raises
    ModelLoadError when they do not fit (a checkpoint of another network)."""
    try:
        _load_bytes(net.load_parameters, checkpoint["params"])
        _load_bytes(trainer.load_states, checkpoint["trainer"])
    except (OSError, ValueError, AssertionError, KeyError, mx.base.MXNetError) as error:
        raise _damaged("given to resume", "training checkpoint", error) from None


def plot_history(history: list[dict], path: str, best_metric: str | None = None) -> None:
    """Save a PNG of train loss (and every other numeric metric) per epoch from ``history`` (list of dicts)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    epochs = [h["epoch"] for h in history]
    keys = [k for k in history[0] if k not in ("epoch", "step", "seconds", "lr", "train_loss")
            and isinstance(history[0][k], (int, float))]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    axes[0].plot(epochs, [h["train_loss"] for h in history], "o-", label="train loss")
    for key in keys:
        ax = axes[0] if "loss" in key else axes[1]
        ax.plot(epochs, [h[key] for h in history], "o-", label=key + (" (best by)" if key == best_metric else ""))
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    atomic_write_bytes(path, buffer.getvalue())


class _sigint_ignored:
    """Context: Ctrl-C is ignored inside (a second one cannot cut the interrupted run's checkpoint short)."""

    def __enter__(self):
        try:
            self.previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        except ValueError:         # not the main thread: signals are not ours to handle
            self.previous = None

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


def continue_training_record(card: ModelCard, previous: dict | None) -> ModelCard:
    """``card`` for a resumed run: its ``training`` keeps the interrupted run's command and warm start (from
    ``previous``, the checkpoint's ``extra``: a card as a dict, of this schema or version 1) and lists this run's
    command under ``training.resumed_by``. Returned unchanged when either has no training command."""
    first, now = (previous or {}).get("training") or {}, card.training
    if "command" not in first or "command" not in now:
        return card
    training = dict(now, command=first["command"], warm_start=first.get("warm_start"),
                    resumed_by=first.get("resumed_by", []) + [now["command"]])
    return replace(card, training=training)


def fit(net: gluon.Block, trainer: gluon.Trainer, make_batches: Callable[[int, np.random.Generator], Iterable],
        loss_fn: Callable, evaluate: Callable[[gluon.Block], dict], *, epochs: int, checkpoint_dir: str,
        log_dir: str, name: str, best_metric: str, card: ModelCard, lower_is_better: bool = True,
        clip_norm: float | None = None, seed: int = 0, resume: dict | None = None, keep_epochs: bool = False,
        log: Callable[[str], None] = print) -> list[dict]:
    """Train ``net`` with the gluon ``trainer`` for epochs [start, epochs); return the history: one dict per epoch
    (epoch, step, train_loss, lr, the metrics of ``evaluate``, seconds).

    make_batches(epoch, rng) -> iterable of batches (rng: numpy Generator owned and checkpointed by the loop;
    an iterable with ``len`` gives a sized progress bar). loss_fn(net, batch) -> scalar NDArray, the batch's mean
    loss, computed inside autograd.record(). evaluate(net) -> dict of float metrics on held-out data; it must
    contain ``best_metric``. card: the model's card, written (with best_epoch, step and metrics) beside the best
    weights as ``<name>.json``, and stored as a dict in the checkpoint as ``extra``. clip_norm: global
    gradient-norm clip (None = off). resume: a checkpoint dict (load_checkpoint) whose params/optimizer
    states/epoch/step/best/history/RNG are restored before training; the card's ``training`` record then keeps
    the first run's command (continue_training_record). keep_epochs: also write every epoch's weights and card as
    ``<checkpoint_dir>/<name>_epoch<N>.params`` / ``.json``: a model that loads, and weights to average later
    (utils/average_weights.py).

    Ctrl-C (KeyboardInterrupt) during an epoch writes the checkpoint with that epoch's state as it is (weights,
    optimizer, the batches done, the epoch's loss so far, the RNG state the epoch started from) and re-raises
    KeyboardInterrupt with a one-line message naming it; resuming regenerates the epoch's batches from that RNG
    state and skips those done (their data are loaded again, not trained on), so only MXNet's dropout masks
    differ from a run without interruption.
    """
    os.makedirs(checkpoint_dir, exist_ok=True)
    os.makedirs(log_dir, exist_ok=True)
    ckpt_path = os.path.join(checkpoint_dir, name + ".ckpt")
    log_path = os.path.join(log_dir, name + ".jsonl")
    rng = np.random.default_rng(seed)
    start_epoch, step, best, history, skip, partial = 0, 0, None, [], 0, (0.0, 0)
    if resume is not None:
        restore(net, trainer, resume)
        start_epoch, step, best, history = resume["epoch"], resume["step"], resume["best"], resume["history"]
        rng.bit_generator.state = resume["rng"]
        skip, partial = resume.get("batches_done", 0), tuple(resume.get("partial", partial))
        card = continue_training_record(card, resume.get("extra"))
        log("resuming at epoch %d%s, step %d (best %s = %s)" % (
            start_epoch + 1 if skip else start_epoch, ", batch %d" % (skip + 1) if skip else "", step, best_metric,
            best))
    params = [p for p in net.collect_params().values() if p.grad_req != "null"]

    def checkpoint(**state):
        atomic_write_bytes(ckpt_path, pickle.dumps({
            "params": _saved_bytes(net.save_parameters), "trainer": _saved_bytes(trainer.save_states),
            "step": step, "extra": card.to_dict(), **state}))

    for epoch in range(start_epoch, epochs):
        mx.random.seed(seed * 100003 + epoch)
        epoch_rng, kept, best_before, written = rng.bit_generator.state, len(history), best, False
        started, (total, count) = time.time(), partial
        try:
            batches = make_batches(epoch, rng)
            bar = tqdm(itertools.islice(batches, skip, None), desc="epoch %d/%d" % (epoch + 1, epochs),
                       total=len(batches) if hasattr(batches, "__len__") else None, initial=skip, leave=False,
                       dynamic_ncols=True)
            for batch in bar:
                with autograd.record():
                    loss = loss_fn(net, batch)
                loss.backward()
                if clip_norm:
                    gluon.utils.clip_global_norm([p.grad() for p in params], clip_norm)
                trainer.step(1)
                step += 1
                value = float(loss.asscalar())
                total, count = total + value, count + 1
                bar.set_postfix(loss="%.3f" % (total / count))
            bar.close()
            record = {"epoch": epoch + 1, "step": step, "train_loss": total / max(1, count),
                      "lr": trainer.learning_rate}
            record.update(evaluate(net))
            record["seconds"] = round(time.time() - started, 1)
            history.append(record)
            value = record[best_metric]
            improved = best is None or (value < best if lower_is_better else value > best)
            if improved:
                best = value
            epoch_card = replace(card, best_epoch=epoch + 1, step=step, metrics=record)
            # weights and card: as the best so far when improved, and as this epoch's when epochs are kept
            stems = ([name] if improved else []) + (["%s_epoch%d" % (name, epoch + 1)] if keep_epochs else [])
            for stem in stems:
                save_params(net, os.path.join(checkpoint_dir, stem + ".params"))
                write_card(os.path.join(checkpoint_dir, stem + ".json"), epoch_card)
            checkpoint(epoch=epoch + 1, best=best, history=history, rng=rng.bit_generator.state)
            written = True
            atomic_write_text(log_path, "".join(json.dumps(h) + "\n" for h in history))
        except KeyboardInterrupt:
            if not written:        # this epoch's state as it is, resumed at its next batch (see _interrupted)
                done = count - partial[1] + skip
                with _sigint_ignored():
                    checkpoint(epoch=epoch, best=best_before, history=history[:kept], rng=epoch_rng,
                               batches_done=done, partial=(total, count))
                raise KeyboardInterrupt("resumable checkpoint %s saved in epoch %d after %d batches"
                                        % (ckpt_path, epoch + 1, done)) from None
            raise KeyboardInterrupt("checkpoint %s saved after epoch %d" % (ckpt_path, epoch + 1)) from None
        skip, partial = 0, (0.0, 0)
        log(" ".join("%s=%s" % (k, "%.4g" % v if isinstance(v, float) else v) for k, v in record.items())
            + (" *" if improved else ""))
    if history:
        plot_history(history, os.path.join(log_dir, name + ".png"), best_metric)
    return history
