"""Make the shipped DCASE teacher weights: `python tools/pretrain_dcase_teacher.py` (about 25 min on 2 cores).

dcase_student_int8's quick profile cannot train a teacher that is better than its student in CI minutes (the
width-0.25 ResNet needs many epochs on more clips than the quick split has), so it starts from these weights: the
width-0.25 teacher trained on the full built-in train split (5,000 clips), with the recipe's own optimizer and
cosine schedule. The JSON written beside the weights records how they were made and what they measured.
"""

import argparse
import datetime
import hashlib
import json
import sys
import time

import numpy as np
import tensorflow as tf

from compressor import families, zoo
from compressor.audio.dataset import load_data
from compressor.methods.fit import fit

FRONTEND = {"n_mels": 80}   # as dcase_student_int8.yaml
TAG = "builtin"


def accuracy(model, x, y) -> float:
    return float(np.mean(np.argmax(model.predict(x, batch_size=64, verbose=0), axis=-1) == y))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=float, default=0.25)
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--lr", type=float, default=0.002)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    full = load_data(None, families.get("dcase").data_spec, quick=False, seed=args.seed, frontend=FRONTEND)
    quick = load_data(None, families.get("dcase").data_spec, quick=True, seed=args.seed, frontend=FRONTEND)
    tf.keras.utils.set_random_seed(args.seed)
    model = zoo.build("dcase_teacher", width=args.width)
    t0 = time.perf_counter()
    fit(model, (full.x_train, full.y_train), None, loss="crossentropy", optimizer="adam", lr=args.lr,
        lr_schedule="cosine", epochs=args.epochs, batch_size=32, seed=args.seed, verbose=2)
    seconds = time.perf_counter() - t0

    zoo.WEIGHTS_DIR.mkdir(exist_ok=True)
    weights_path = zoo.WEIGHTS_DIR / f"{model.name}.{TAG}.npz"
    np.savez_compressed(weights_path, *model.get_weights())
    provenance = {
        "model": model.name, "tag": TAG, "parameters": int(model.count_params()),
        "made_by": "python tools/pretrain_dcase_teacher.py " + " ".join(argv if argv is not None else sys.argv[1:]),
        "made_on": datetime.date.today().isoformat(), "tensorflow": tf.__version__,
        "trained_on": f"the built-in dcase scenes' full-profile train split ({len(full.x_train)} clips, seed "
                      f"{args.seed})",
        "frontend": full.frontend,
        "training": {"loss": "crossentropy", "optimizer": "adam", "lr": args.lr, "lr_schedule": "cosine",
                     "epochs": args.epochs, "batch_size": 32, "seconds": round(seconds)},
        "measured": {  # held-out clips: the test splits are generated from their own seed stream
            "test_accuracy_full_split": accuracy(model, full.x_test, full.y_test),
            "test_accuracy_quick_split": accuracy(model, quick.x_test, quick.y_test)},
        "sha256": hashlib.sha256(weights_path.read_bytes()).hexdigest(),
    }
    (zoo.WEIGHTS_DIR / f"{model.name}.{TAG}.json").write_text(json.dumps(provenance, indent=2) + "\n")
    print(json.dumps(provenance, indent=2))


if __name__ == "__main__":
    main()
