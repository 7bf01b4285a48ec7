"""Train the signature model from the synthetic generator, from a seed, in one command:

    python -m silicio.spatial.train --seed 0

writes ``models/signatures.npz`` and its training report ``models/TRAINING.md`` beside this
module (``--out`` / ``--report`` elsewhere). The training maps come from seed ``--seed``, the
held-out maps of the report from a fresh seed (``--seed + 1``, never trained on). One thread
(``n_jobs=1``): the same seed gives the same forest, node for node.

Needs scikit-learn (the ``spatial`` extra); classifying with the file does not.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

from silicio.extras import require

from .features import FEATURE_NAMES, FEATURE_VERSION, features
from .generator import CLASSES, GENERATOR_VERSION, generate
from .model import MODEL_FORMAT, MODEL_PATH, Forest, from_sklearn

__all__ = ["TrainingSettings", "evaluate", "report_markdown", "train"]

REPORT_PATH = MODEL_PATH.parent / "TRAINING.md"


class TrainingSettings:
    """How the committed model is trained: the maps and the forest's size (small: the file is
    committed, and inference walks every tree)."""

    def __init__(
        self, maps: int = 27_000, trees: int = 100, max_leaf_nodes: int = 400, min_samples_leaf: int = 2
    ):
        self.maps, self.trees, self.max_leaf_nodes, self.min_samples_leaf = (
            maps,
            trees,
            max_leaf_nodes,
            min_samples_leaf,
        )


def train(seed: int, settings: TrainingSettings | None = None) -> Forest:
    """A forest trained on ``settings.maps`` generated maps from ``seed`` (balanced classes)."""
    require("spatial", "training the signature model")
    from sklearn.ensemble import RandomForestClassifier

    settings = settings or TrainingSettings()
    maps, labels = generate(settings.maps, seed=seed)
    x = features(maps)
    estimator = RandomForestClassifier(
        n_estimators=settings.trees,
        max_leaf_nodes=settings.max_leaf_nodes,
        min_samples_leaf=settings.min_samples_leaf,
        max_features="sqrt",
        n_jobs=1,
        random_state=seed,
    )
    estimator.fit(x, labels)
    import sklearn

    metadata = {
        "format": MODEL_FORMAT,
        "feature_version": FEATURE_VERSION,
        "features": list(FEATURE_NAMES),
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "training_maps": settings.maps,
        "estimator": f"RandomForestClassifier(n_estimators={settings.trees}, max_leaf_nodes="
        f"{settings.max_leaf_nodes}, min_samples_leaf={settings.min_samples_leaf}, max_features='sqrt')",
        "scikit_learn": sklearn.__version__,
    }
    return from_sklearn(estimator, CLASSES, metadata)


def evaluate(truth: np.ndarray, predicted: np.ndarray, classes: tuple[str, ...] = CLASSES) -> dict:
    """Confusion matrix (rows: truth, columns: predicted), per-class precision / recall / F1 and
    support, macro F1 and accuracy, computed by scikit-learn's metrics."""
    require("spatial", "scoring the signature model")
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    precision, recall, f1, support = precision_recall_fscore_support(
        truth, predicted, labels=list(classes), zero_division=0
    )
    return {
        "classes": list(classes),
        "confusion": confusion_matrix(truth, predicted, labels=list(classes)),
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support,
        "macro_f1": float(np.mean(f1)),
        "accuracy": float(np.mean(np.asarray(truth) == np.asarray(predicted))),
    }


def scores_markdown(scores: dict) -> str:
    """Per-class precision / recall / F1 and the confusion matrix as markdown tables."""
    classes = scores["classes"]
    lines = [
        f"Macro F1 **{scores['macro_f1']:.4f}**, accuracy {scores['accuracy']:.4f}, "
        f"lowest class F1 {min(scores['f1']):.4f} ({classes[int(np.argmin(scores['f1']))]}).",
        "",
        "| class | precision | recall | F1 | maps |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for i, name in enumerate(classes):
        lines.append(f"| {name} | {scores['precision'][i]:.4f} | {scores['recall'][i]:.4f} | "
                     f"{scores['f1'][i]:.4f} | {scores['support'][i]} |")  # fmt: skip
    lines += ["", "Confusion matrix (rows: true class, columns: predicted):", ""]
    lines.append("| true \\ predicted | " + " | ".join(classes) + " |")
    lines.append("| --- |" + " ---: |" * len(classes))
    for i, name in enumerate(classes):
        lines.append(f"| {name} | " + " | ".join(str(v) for v in scores["confusion"][i]) + " |")
    return "\n".join(lines) + "\n"


def report_markdown(forest: Forest, scores: dict, held_out_seed: int, held_out_maps: int, cpu_seconds: float,
                    model_bytes: int) -> str:  # fmt: skip
    """The training report committed beside the model."""
    meta = forest.metadata
    return (
        "# Wafer-map signature model: training report\n\n"
        "Written by `python -m silicio.spatial.train --seed "
        f"{meta['seed']}`; do not edit by hand.\n\n"
        f"- model: `{MODEL_PATH.name}`, {model_bytes:,} bytes, format {meta['format']}, "
        f"{len(forest.roots)} trees, {len(forest.left):,} nodes\n"
        f"- estimator: scikit-learn {meta['scikit_learn']} `{meta['estimator']}`, n_jobs=1\n"
        f"- training: {meta['training_maps']:,} maps from `silicio.spatial.generate` (generator version "
        f"{meta['generator_version']}), seed {meta['seed']}; {len(FEATURE_NAMES)} features (version "
        f"{meta['feature_version']})\n"
        f"- training took {cpu_seconds:.0f} CPU seconds (features and fit) on {platform.machine()}, "
        f"load {os.getloadavg()[0]:.1f}\n\n"
        f"## Held-out maps: {held_out_maps:,} from a fresh seed ({held_out_seed})\n\n"
        + scores_markdown(scores)
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m silicio.spatial.train", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the training maps and the forest")
    parser.add_argument("--maps", type=int, default=TrainingSettings().maps, help="training maps")
    parser.add_argument("--held-out", type=int, default=9_000, help="held-out maps scored in the report")
    parser.add_argument("--out", type=Path, default=MODEL_PATH, help="model file to write")
    parser.add_argument("--report", type=Path, default=REPORT_PATH, help="training report to write")
    args = parser.parse_args(argv)
    started = time.process_time()
    forest = train(args.seed, TrainingSettings(maps=args.maps))
    cpu = time.process_time() - started
    forest.save(args.out)
    held_out_seed = args.seed + 1
    maps, labels = generate(args.held_out, seed=held_out_seed)
    predicted = np.array(forest.classes)[forest.predict_proba(features(maps)).argmax(axis=1)]
    scores = evaluate(labels, predicted, forest.classes)
    args.report.write_text(
        report_markdown(forest, scores, held_out_seed, args.held_out, cpu, args.out.stat().st_size),
        encoding="utf-8",
    )
    print(scores_markdown(scores))
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes) and {args.report}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
