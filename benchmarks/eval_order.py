"""Accuracy of the trained ordering network on held-out demo pairs, against two baselines.

Held-out pairs come from fresh demo scenes (a seed the training data did not use, the root's
base height), labelled by depth exactly as training pairs are (train_generate_order.py). The
network of ROOT/trainedmodels/order/ predicts the class in front (argmax of its 20 logits); it
is compared with always answering the most frequent front class of ROOT's training pairs, and
with the class-order rule (the later class of the root's back-to-front order is in front).
Prints one line each: `order_network_accuracy=`, `majority_class_accuracy=`, `class_order_accuracy=`.
"""

import argparse
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import training  # noqa: E402
import numpy as np  # noqa: E402

import class_table  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import errors  # noqa: E402
import make_demo_dataset  # noqa: E402
import order  # noqa: E402
import train_connect_component_mask  # noqa: E402
import train_generate_order  # noqa: E402
from order_network import OrderNetwork  # noqa: E402

LOG = logging.getLogger("sims")


def held_out_root(folder, images, base_height, seed):
    """Demo training images with their depth-labelled pairs, in a folder of their own."""
    make_demo_dataset.main(["--root", str(folder), "--train", str(images), "--test", "0",
                            "--base-height", str(base_height), "--seed", str(seed)])
    train_connect_component_mask.main(["--root", str(folder)])
    train_generate_order.main(["--root", str(folder)])
    return folder


def training_fronts(root):
    fronts = Counter()
    for path in sorted((root / order.TRAIN_PAIRS).glob("*.mat")):
        fronts.update(train_generate_order.read_pair_labels(path)[1].tolist())
    return fronts


def evaluate(root, held_out):
    shape = data_root.load_sizes(root).shape(order.LEVEL)
    classes = class_table.load_classes(root)
    network = OrderNetwork(classes.count)
    training.restore_for_test(root / order.MODEL_FOLDER, network, classes)
    majority = training_fronts(root).most_common(1)[0][0]
    class_order = class_table.class_order(root, classes)
    correct = Counter()
    total = 0
    for path in sorted((held_out / order.TRAIN_PAIRS).glob("*.mat")):
        pair_masks, fronts = order.read_pairs(path, shape, 1)
        if not len(fronts):
            continue
        classes = train_generate_order.read_pair_labels(path)[0][:, 2:]
        label = order.label_image(held_out / order.TRAIN_LABELS / f"{path.stem}.png", shape)
        predicted = order.predict(network, pair_masks, label).argmax(axis=1)
        later = [max(pair, key=class_order.index) for pair in classes]
        correct["network"] += int(np.sum(predicted == fronts[:, 0]))
        correct["majority"] += int(np.sum(fronts[:, 0] == majority))
        correct["class_order"] += int(np.sum(np.array(later) == fronts[:, 0]))
        total += len(fronts)
    if total == 0:
        raise errors.DataError(f"{held_out}: the held-out scenes gave no labelled pair")
    return {name: count / total for name, count in correct.items()}, total, majority


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    command_line.add_root_argument(parser)
    parser.add_argument("--images", type=int, default=40, help="held-out demo scenes")
    parser.add_argument("--seed", type=int, default=9001, help="seed of the held-out scenes")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    with tempfile.TemporaryDirectory() as folder:
        held_out = held_out_root(Path(folder), args.images, data_root.load_sizes(root).base_height, args.seed)
        accuracy, pairs, majority = evaluate(root, held_out)
    LOG.info("%d held-out pairs; majority class: %s", pairs, class_table.CITYSCAPES.names[majority - 1])
    print(f"order_network_accuracy={accuracy['network']:.3f}")
    print(f"majority_class_accuracy={accuracy['majority']:.3f}")
    print(f"class_order_accuracy={accuracy['class_order']:.3f}")


if __name__ == "__main__":
    command_line.run_cli(main)
