"""The ordering network of SIMS (order.py of the original), in TensorFlow 2.

Training (training_phase = True, or --train): each step takes --batch-size training images in
shuffled order and up to BATCH_PAIRS pairs of each from traindata/order/NAME.mat (pair masks and
the class in front, labelled by depth), with the image's label traindata/label_refine/NAME.png,
and minimises softmax cross-entropy. Checkpoints and TensorBoard logs go to trainedmodels/order/;
an interrupted run continues from the last checkpoint.
Test (training_phase = False, or --test): every testdata/order/NAME.mat gets
result/order/data/NAME.mat with `prediction` (pairs x K + 1 logits, 20 for Cityscapes' 19
classes; argmax = the class in front).
Sizes come from the data root (level 1, the original's 256x512).
"""

# ---- configuration (as the original's first screen) -----------------------------------------
training_phase = False
BATCH_PAIRS = 10          # pairs per step, and per forward pass at test time
BASE_LEARNING_RATE = 1e-6  # the original's schedule: min(1e-6 * 1.1^(epoch-1), 1e-5)
MAX_LEARNING_RATE = 1e-5
EPOCHS = 100
SAVE_EVERY = 200          # steps between checkpoints
LEVEL = 1

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import training  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import command_line  # noqa: E402
import data_root  # noqa: E402
import distribution  # noqa: E402
import errors  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
from order_network import DROPOUT_RATE, HIDDEN_UNITS, OrderNetwork, batch_losses  # noqa: E402

# the folders it reads and writes (folders.py)
TRAIN_PAIRS, TRAIN_LABELS = folders.ORDER_TRAINING, folders.TRAIN_LABELS
TRAIN_DISPARITY = folders.TRAIN_DISPARITY
TEST_PAIRS, TEST_LABELS = folders.ORDER_INPUTS, folders.TEST_LABELS
MODEL_FOLDER, RESULT_FOLDER = folders.ORDER_MODEL, folders.ORDER_PREDICTIONS


def read_pairs(path, shape, label_columns):
    """(pair masks [N,H,W,3] uint8, labels [N, label_columns]) of an order file; MATLAB drops a
    trailing N of 1."""
    content = file_io.load_mat(path, ["semantic_segment_mask", "semantic_segment_label"])
    masks, labels = content["semantic_segment_mask"], content["semantic_segment_label"]
    if masks.ndim == 3 and masks.size:
        masks = masks[..., None]
    count = labels.size // label_columns
    if masks.size != count * shape[0] * shape[1] * 3 or labels.size % label_columns:
        raise errors.DataError(f"{path}: semantic_segment_mask {masks.shape} and semantic_segment_label "
                               f"{labels.shape} do not hold the same pairs of {shape[0]}x{shape[1]} masks")
    return np.moveaxis(masks.reshape(shape + (3, count)), 3, 0), labels.reshape(count, label_columns)


def label_image(path, shape):
    """The colour label in 0..1, as a [1, H, W, 3] batch."""
    return file_io.read_image(path, shape=shape)[None] / 255.0


def learning_rate(epoch):
    """The original's warm-up: 1e-6 growing by 10 % an epoch (1-based) up to 1e-5."""
    return min(BASE_LEARNING_RATE * 1.1 ** (epoch - 1), MAX_LEARNING_RATE)


def sample_reader(args):
    """(read_sample(index) of a training run (input_pipeline), training images): up to BATCH_PAIRS
    random pairs of the sample's image, padded (pair_weight 0), with the dropout draw of each pair's
    hidden units; weight 0 when the image has no pair."""
    root, seed = args.root, args.seed
    shape = args.sizes.shape(LEVEL)
    pairs = root / TRAIN_PAIRS
    image_ids = data_root.list_image_ids(pairs, suffix=".mat") if pairs.is_dir() else []
    if not image_ids:
        if not any((root / TRAIN_DISPARITY).glob("*.png")):
            raise errors.DataError(f"{pairs}: no ordering pairs, because {root / TRAIN_DISPARITY} holds no disparity "
                                   "maps (the dataset was imported without them), so the ordering network cannot be "
                                   "trained; the canvases then order overlapping segments by the class table's order")
        raise errors.DataError(f"{pairs}: no training pairs; run data_prep/train_generate_order.py")

    def read_sample(index):
        rng = training.step_rng(seed, index)
        name = data_root.image_name(training.epoch_image(image_ids, seed, index))
        pair_masks, fronts = read_pairs(root / TRAIN_PAIRS / f"{name}.mat", shape, 1)
        chosen = rng.permutation(len(fronts))[:BATCH_PAIRS]
        sample = {"pair_masks": np.zeros((BATCH_PAIRS,) + shape + (3,), np.uint8),
                  "label": np.zeros(shape + (3,), np.uint8),
                  "front": np.zeros(BATCH_PAIRS, np.int32), "pair_weight": np.zeros(BATCH_PAIRS, np.float32),
                  "dropout_keep": (rng.random((BATCH_PAIRS, HIDDEN_UNITS)) >= DROPOUT_RATE).astype(np.float32),
                  "weight": np.float32(len(chosen) > 0)}
        if len(chosen):   # no touching pair with depth on both sides: nothing to learn
            sample["pair_masks"][:len(chosen)] = pair_masks[chosen]
            sample["label"] = file_io.read_image(root / TRAIN_LABELS / f"{name}.png", shape=shape)
            sample["front"][:len(chosen)] = fronts[chosen, 0]
            sample["pair_weight"][:len(chosen)] = 1.0
        return sample

    return read_sample, image_ids


def order_network(args):
    """The ordering network of the data root's class table; a model imported from the original's
    keeps the original's fixed pooling window (its import record says so)."""
    window = training.import_record(args.root / MODEL_FOLDER).get("pool_window")
    height, width = args.sizes.shape(LEVEL)
    if window and (height // 32 < window[0] or width // 32 < window[1]):   # the trunk pools five times by 2
        raise errors.DataError(f"{args.root / MODEL_FOLDER}: imported from the original, this network averages "
                               f"{window[0]}x{window[1]} cells of its last feature map, which needs level-1 images of "
                               f"at least {32 * window[0]}x{32 * window[1]}; this root's are {height}x{width}")
    return OrderNetwork(args.classes.count, pool_window=window)


def train(args, steps):
    read_sample, image_ids = sample_reader(args)
    with args.strategy.scope():
        network = order_network(args)
        optimizer = distribution.adam(learning_rate(1))
    epoch_steps = training.steps_per_epoch(args, EPOCHS, len(image_ids))
    training.train(args, training.TrainingJob(
        "order", args.root / MODEL_FOLDER, network, optimizer, read_sample, lambda batch: batch_losses(network, batch),
        learning_rate_at=lambda step: training.set_learning_rate(optimizer, step, epoch_steps, learning_rate,
                                                                 args.learning_rate)), steps)


def predict(network, pair_masks, label):
    """Logits [N, K + 1] of an image's pairs, BATCH_PAIRS at a time."""
    prediction = np.zeros((len(pair_masks), network.logit_count), np.float32)
    for start in range(0, len(pair_masks), BATCH_PAIRS):
        part = pair_masks[start:start + BATCH_PAIRS]
        prediction[start:start + len(part)] = network(
            tf.constant(part / 255.0, tf.float32), tf.constant(np.repeat(label, len(part), axis=0), tf.float32)).numpy()
    return prediction


def test(args):
    root, shape = args.root, args.sizes.shape(LEVEL)
    network = order_network(args)
    training.restore_for_test(root / MODEL_FOLDER, network, args.classes, root / RESULT_FOLDER, ".mat")

    def result_of(name):
        pair_masks, _ = read_pairs(root / TEST_PAIRS / f"{name}.mat", shape, 4)
        return {"prediction": predict(network, pair_masks, label_image(root / TEST_LABELS / f"{name}.png", shape))}

    training.test_each_file(root / TEST_PAIRS, root / RESULT_FOLDER, result_of, "order test")


def main(argv=None):
    script = training.NetworkScript(__doc__, EPOCHS, SAVE_EVERY, TRAIN_PAIRS, training_suffix=".mat",
                                    learning_rate_help="a fixed learning rate instead of the original's warm-up schedule")
    training.main(script, training_phase, argv, train, test)


if __name__ == "__main__":
    command_line.run_cli(main)
