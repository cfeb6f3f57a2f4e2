"""What every network script does around its maths: paths into the data root, checkpoints that
resume, TensorBoard logs, a progress bar, and one-line errors (shared by transformation.py,
order.py and the synthesis scripts).
"""

import argparse
import fractions
import hashlib
import json
import logging
import os
import sys
from pathlib import Path

import quiet_tensorflow

tf = quiet_tensorflow.import_tensorflow()   # before anything else loads TensorFlow noisily

import numpy as np  # noqa: E402
from tensorflow.core.framework import summary_pb2  # noqa: E402
from tqdm import tqdm  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_prep"))
import sims_common as common  # noqa: E402

LOG = logging.getLogger("sims")
logging.getLogger("absl").setLevel(logging.WARNING)  # checkpointing logs timings at INFO


def parse_arguments(doc, training_phase, argv, learning_rate, learning_rate_help, save_every,
                    add_arguments=None):
    """The command line of a network script: --train / --test override the script's
    training_phase; --root, --max-steps, --epochs, --seed, --learning-rate, --save-every. Adds root (resolved)
    and sizes, and seeds TensorFlow for training so that initial weights are reproducible."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    phase = parser.add_mutually_exclusive_group()
    phase.add_argument("--train", dest="training_phase", action="store_true", default=training_phase,
                       help="train (overrides training_phase at the top of the script)")
    phase.add_argument("--test", dest="training_phase", action="store_false", help="run the test phase")
    common.add_root_argument(parser)
    parser.add_argument("--epochs", type=int, help="passes over the training images")
    parser.add_argument("--max-steps", type=int, help="stop training after this many steps in all")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the sample order")
    parser.add_argument("--learning-rate", type=float, default=learning_rate, help=learning_rate_help)
    if learning_rate is None:  # the script follows an epoch schedule
        parser.add_argument("--schedule-steps", type=common.positive_int,
                            help="run the script's whole learning-rate schedule (all its epochs) in this many "
                                 "steps, for short runs; by default an epoch is one pass over the training images")
    parser.add_argument("--save-every", type=int, default=save_every,
                        help=f"steps between checkpoints (default {save_every})")
    if add_arguments:
        add_arguments(parser)
    args = parser.parse_args(argv)
    args.root = args.root.resolve()
    args.sizes = common.load_sizes(args.root)
    args.classes = common.load_classes(args.root)
    if args.training_phase:
        tf.random.set_seed(args.seed)
    return args


def run_phase(args, default_epochs, training_folder, train, test, suffix=".png"):
    """train(args, steps) for --max-steps or --epochs passes over the training images (the files
    of training_folder) when the phase is training, else test(args)."""
    if args.training_phase:
        images = len(common.list_image_ids(training_folder, suffix=suffix))
        train(args, total_steps(args, default_epochs, images))
    else:
        test(args)


def steps_per_epoch(args, epochs, images_per_epoch):
    """Steps of one schedule epoch: a pass over the training images, or the script's epochs
    squeezed into --schedule-steps (an exact fraction then, so that epochs start on the right step)."""
    if args.schedule_steps:
        return fractions.Fraction(args.schedule_steps, epochs)
    return images_per_epoch


def set_learning_rate(optimizer, step, steps_per_epoch, schedule, fixed=None):
    """Give the optimizer the rate of a step, schedule(epoch) with epochs counted from 1 as the
    original's scripts do (or the fixed rate); returns it."""
    rate = fixed or schedule(int(step // steps_per_epoch) + 1)
    optimizer.learning_rate.assign(rate)
    return rate


def total_steps(args, default_epochs, images_per_epoch):
    if args.max_steps is not None:
        return args.max_steps
    return (args.epochs if args.epochs is not None else default_epochs) * images_per_epoch


def step_rng(seed, step):
    """Random generator of one training step: a resumed run draws what an uninterrupted one would."""
    return np.random.default_rng([seed, step])


# tf.summary.scalar lives in the tensorboard package, which TensorFlow no longer installs; the core
# tf.summary.write with the scalars plugin's metadata writes the same events.
_SCALAR_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars"))


def log_scalar(name, value, step):
    tf.summary.write(name, tf.constant(float(value), tf.float32), step=step, metadata=_SCALAR_METADATA)


_IMAGE_METADATA = summary_pb2.SummaryMetadata(
    plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="images"))


def log_image(name, image, step):
    """An HxWx3 image (0..255) in TensorBoard's image format: width, height, PNG bytes."""
    image = np.clip(np.round(image), 0, 255).astype(np.uint8)
    encoded = tf.stack([tf.as_string(image.shape[1]), tf.as_string(image.shape[0]), tf.io.encode_png(image)])
    tf.summary.write(name, encoded, step=step, metadata=_IMAGE_METADATA)


def epoch_image(image_ids, seed, step):
    """The training image of a step: each epoch visits every image once, in a shuffled order."""
    epoch, position = divmod(step, len(image_ids))
    return image_ids[np.random.default_rng([seed, epoch, 1]).permutation(len(image_ids))[position]]


def train(folder, network, optimizer, steps, step_fn, save_every=100, description="training", *, classes):
    """Run step_fn(step) -> {name: value} (or None to skip) until `steps` steps are done in all.

    Checkpoints (network, optimizer, step) go to `folder` every save_every steps and at the end;
    a run that finds one continues from it (when it was trained with the same class table,
    check_classes). Scalars go to TensorBoard logs in folder/logs.
    """
    folder = Path(folder)
    check_classes(folder, classes, training_starts=True)
    optimizer.build(network.trainable_variables)  # restoring needs the slots to exist already
    step = tf.Variable(0, dtype=tf.int64, name="step")
    checkpoint = tf.train.Checkpoint(network=network, optimizer=optimizer, step=step)
    manager = tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=3)
    if manager.latest_checkpoint:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
        LOG.info("%s: resuming from %s (step %d)", description, manager.latest_checkpoint, int(step))
    writer = tf.summary.create_file_writer(str(folder / "logs"))
    with writer.as_default(), tqdm(total=steps, initial=min(int(step), steps), desc=description,
                                   unit="step", file=sys.stderr) as progress:
        while int(step) < steps:
            current = int(step)
            scalars = step_fn(current)
            step.assign_add(1)
            if scalars:
                for name, value in scalars.items():
                    log_scalar(name, value, current)
                progress.set_postfix({name: f"{float(value):.4g}" for name, value in scalars.items()})
            progress.update()
            if int(step) % save_every == 0 or int(step) == steps:
                manager.save(checkpoint_number=int(step))
    return int(step)


CLASSES_RECORD = "classes.json"  # in a model folder: the class names its networks were built for


def check_classes(folder, classes, training_starts=False):
    """A network's channel counts follow the class table, so a model folder records the table's
    class names when training starts there and refuses another table afterwards (one clear line)."""
    record = Path(folder) / CLASSES_RECORD
    names = list(classes.names)
    has_checkpoint = tf.train.latest_checkpoint(str(folder)) is not None
    if record.exists() or has_checkpoint:
        try:
            # checkpoints from before class tables were Cityscapes'
            recorded = json.loads(record.read_text())["classes"] if record.exists() else list(common.CLASS_NAMES)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise common.DataError(f"{record}: not a class record ({error})") from None
        if recorded != names:
            raise common.DataError(f"{record}: the networks here were trained with {len(recorded)} classes "
                                   f"({', '.join(recorded[:3])}, ...), the data root's table has {len(names)} "
                                   f"({', '.join(names[:3])}, ...); use another model folder or the same table")
    elif training_starts:
        common.write_bytes_atomic(record, json.dumps({"classes": names}).encode())


def restore_for_test(folder, network, classes, result_folder=None, result_suffix=None, inputs=()):
    """Load the newest checkpoint of a network (one clear error when there is none, or when it was
    trained with another class table, check_classes). A test phase names its result folder and the
    folders of network results it reads (`inputs`): results made by other weights or from other
    inputs are removed there, so that the phase writes them again instead of skipping them as
    finished (sims_common.keep_outputs_made_from)."""
    check_classes(folder, classes)
    latest = tf.train.latest_checkpoint(str(folder))
    if latest is None:
        raise common.DataError(f"{folder}: no checkpoint found; train the network first "
                               "(training_phase = True at the top of the script, or --train)")
    tf.train.Checkpoint(network=network).restore(latest).expect_partial()
    LOG.info("restored %s", latest)
    if result_folder is not None:
        # the .index file lists every variable with the checksum of its saved value
        sources = {"checkpoint": Path(latest).name,
                   "sha256": hashlib.sha256(Path(f"{latest}.index").read_bytes()).hexdigest(),
                   "inputs": [common.made_from(path) for path in inputs]}
        common.keep_outputs_made_from(sources, result_folder, result_suffix)
    return latest


def test_each_file(input_folder, result_folder, result_of, description):
    """Write result_folder/NAME.mat with the variables result_of(NAME) returns, for every
    input_folder/NAME.mat; finished results are skipped, so an interrupted test phase resumes."""
    common.run_per_image(
        lambda image_id: common.save_mat(result_folder / f"{common.image_name(image_id)}.mat",
                                         result_of(common.image_name(image_id))),
        common.list_image_ids(input_folder, suffix=".mat"),
        lambda image_id: [result_folder / f"{common.image_name(image_id)}.mat"], description=description)
