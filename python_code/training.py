"""What every network script does around its maths: its command line, paths into the data root,
checkpoints that resume, TensorBoard logs, a progress bar, and one-line errors (used by
transformation.py, order.py, appearance_flow.py and the synthesis scripts).

A script describes itself once (NetworkScript) and hands that, with its train and test functions,
to main(); its train function describes one run (TrainingJob) and hands it to train().
"""

import script_setup  # noqa: F401  (first: data_prep on the path, TensorFlow loaded quietly)

import argparse
import contextlib
import dataclasses
import fractions
import hashlib
import json
import logging
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import keras
import numpy as np
import tensorflow as tf
from tensorflow.core.framework import summary_pb2
from tqdm import tqdm

import checkpoints
import class_table
import command_line
import data_root
import distribution
import errors
import file_io
import input_pipeline
import per_image_runner

LOG = logging.getLogger("sims")


@dataclasses.dataclass(frozen=True)
class NetworkScript:
    """What a network script tells main() about itself."""

    doc: str                      # the script's docstring; its first line describes the command line
    epochs: int                   # the length of training without --epochs or --max-steps
    save_every: int               # default steps between checkpoints
    training_folder: str          # under the data root: one file per training image (counts them)
    training_suffix: str = ".png"
    learning_rate: Optional[float] = None   # a fixed rate; None: the script follows its epoch schedule
    learning_rate_help: str = "Adam's learning rate"
    add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None   # the script's own options


@dataclasses.dataclass(frozen=True)
class TrainingJob:
    """One training run, as a script's train function sets it up for train()."""

    name: str                     # of the progress bar and the log lines
    folder: Path                  # checkpoints, TensorBoard logs, the records of classes and options
    network: Any                  # made in args.strategy.scope(), as the optimizer
    optimizer: Any
    read_sample: Callable         # global sample index -> {name: array} (input_pipeline)
    batch_losses: Callable        # batch -> ({term: per-sample values}, {name: output}) (make_train_step)
    learning_rate_at: Optional[Callable[[int], float]] = None   # sets and returns the rate of a step
    samples_can_be_empty: bool = True   # a sample of weight 0 has nothing to learn from
    options: dict = dataclasses.field(default_factory=dict)   # options a resumed run must keep


def main(script, training_phase, argv, train, test):
    """The whole run of a network script: its command line, then train(args, steps) or test(args)."""
    args = parse_arguments(script, training_phase, argv)
    run_phase(args, script, train, test)


def parse_arguments(script, training_phase, argv):
    """The command line of a network script: --train / --test override the script's
    training_phase; --root, --max-steps, --epochs, --seed, --learning-rate, --save-every, where
    and how to train (distribution.add_arguments), and the script's own options. Adds root
    (resolved), sizes, classes and, for training, the tf.distribute strategy; seeds TensorFlow for
    training so that initial weights are reproducible."""
    parser = argparse.ArgumentParser(description=script.doc.strip().splitlines()[0])
    phase = parser.add_mutually_exclusive_group()
    phase.add_argument("--train", dest="training_phase", action="store_true", default=training_phase,
                       help="train (overrides training_phase at the top of the script)")
    phase.add_argument("--test", dest="training_phase", action="store_false", help="run the test phase")
    command_line.add_root_argument(parser)
    parser.add_argument("--epochs", type=int, help="passes over the training images")
    parser.add_argument("--max-steps", type=int, help="stop training after this many steps in all")
    parser.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the sample order")
    parser.add_argument("--learning-rate", type=float, default=script.learning_rate, help=script.learning_rate_help)
    if script.learning_rate is None:  # the script follows an epoch schedule
        parser.add_argument("--schedule-steps", type=command_line.positive_int,
                            help="run the script's whole learning-rate schedule (all its epochs) in this many "
                                 "steps, for short runs; by default an epoch is one pass over the training images")
    parser.add_argument("--save-every", type=int, default=script.save_every,
                        help=f"steps between checkpoints (default {script.save_every})")
    parser.add_argument("--keep-checkpoints", type=command_line.positive_int, default=KEEP_CHECKPOINTS,
                        help=f"newest checkpoints kept in the model folder (default {KEEP_CHECKPOINTS}); each holds "
                             "Adam's moments too, so the synthesis network's take 0.7 GB at the original's size "
                             "(python_code/export_model.py keeps the weights only)")
    distribution.add_arguments(parser)
    if script.add_arguments:
        script.add_arguments(parser)
    args = parser.parse_args(argv)
    args.root = args.root.resolve()
    args.sizes = data_root.load_sizes(args.root)
    args.classes = class_table.load_classes(args.root)
    # the policy is process-wide: set it either way, so that a run never inherits another's
    keras.mixed_precision.set_global_policy("float32")
    args.strategy = tf.distribute.get_strategy()
    if args.training_phase:
        distribution.split_cpu(args.cpu_devices)
        if args.mixed_precision:
            distribution.use_mixed_precision()
        args.strategy = distribution.choose_strategy(args.distribute, args.devices, args.cpu_devices,
                                                     batch_size=args.batch_size)
        tf.random.set_seed(args.seed)
    return args


def run_phase(args, script, train, test):
    """train(args, steps) for --max-steps or --epochs passes over the training images (the files
    of the script's training folder) when the phase is training, else test(args)."""
    if args.training_phase:
        training_folder = args.root / script.training_folder
        # a missing folder is the script's to explain (its sample reader says what makes it)
        images = len(data_root.list_image_ids(training_folder, suffix=script.training_suffix)) \
            if training_folder.is_dir() else 0
        if 0 < images < args.batch_size:
            raise errors.DataError(f"{training_folder}: --batch-size {args.batch_size} is larger than its "
                                   f"{images} training images")
        train(args, total_steps(args, script.epochs, images))
    else:
        test(args)


def steps_per_epoch(args, epochs, images_per_epoch):
    """Steps of one schedule epoch: a pass over the training images in batches of --batch-size, or
    the script's epochs squeezed into --schedule-steps (exact fractions, so that epochs start on the
    right step)."""
    if args.schedule_steps:
        return fractions.Fraction(args.schedule_steps, epochs)
    return fractions.Fraction(images_per_epoch, args.batch_size)


def set_learning_rate(optimizer, step, steps_per_epoch, schedule, fixed=None):
    """Give the optimizer the rate of a step, schedule(epoch) with epochs counted from 1 as the
    original's scripts do (or the fixed rate); returns it."""
    rate = fixed or schedule(int(step // steps_per_epoch) + 1)
    optimizer.learning_rate.assign(rate)
    return rate


def total_steps(args, default_epochs, images_per_epoch):
    if args.max_steps is not None:
        return args.max_steps
    samples = (args.epochs if args.epochs is not None else default_epochs) * images_per_epoch
    return -(-samples // args.batch_size)


def step_rng(seed, sample):
    """Random generator of one training sample (by its global index, input_pipeline): a resumed or
    distributed run draws what an uninterrupted one-device run would."""
    return np.random.default_rng([seed, sample])


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


def epoch_image(image_ids, seed, sample):
    """The training image of a sample: each epoch visits every image once, in a shuffled order."""
    epoch, position = divmod(sample, len(image_ids))
    return image_ids[np.random.default_rng([seed, epoch, 1]).permutation(len(image_ids))[position]]


IMAGE_EVERY = 50   # steps between the sample images a network logs to TensorBoard
KEEP_CHECKPOINTS = 3   # newest checkpoints a model folder keeps, by default


def make_train_step(strategy, network, optimizer, batch_losses, jit=False, samples_can_be_empty=True):
    """train_step(batch) -> ({term: mean over the global batch}, {name: output of the first replica}),
    or (None, None) when no sample of the global batch has content; the optimizer then stays as it
    was, as when the one-sample loop skipped such a sample.

    batch_losses(batch) -> ({term: [per-replica batch] values}, {name: tensor}) runs on every replica;
    the objective is the term "total" where there is one, else "loss". A batch holds "weight" per
    sample (1 = content, 0 = nothing to learn from); each term is averaged over the samples of the
    global batch that have content, so that summing the replicas' gradients (what tf.distribute does)
    gives the gradient of the batch mean. --jit compiles the loss and gradients with XLA; the update
    stays outside, where tf.distribute sums the gradients.
    """
    variables = network.trainable_variables
    scales_loss = isinstance(optimizer, keras.optimizers.LossScaleOptimizer)
    if not optimizer.built:
        with strategy.scope():
            optimizer.build(variables)   # its slots must exist before restoring, and outside tf.function

    def loss_and_gradients(batch, global_weight):
        with tf.GradientTape() as tape:
            terms, outputs = batch_losses(batch)
            means = {name: tf.reduce_sum(tf.cast(value, tf.float32) * batch["weight"]) / global_weight
                     for name, value in terms.items()}
            objective = means["total" if "total" in means else "loss"]
            if scales_loss:
                objective = optimizer.scale_loss(objective)
        return means, outputs, tape.gradient(objective, variables)

    if jit:
        loss_and_gradients = tf.function(loss_and_gradients, jit_compile=True)

    def replica_step(batch, global_weight):
        means, outputs, gradients = loss_and_gradients(batch, global_weight)
        optimizer.apply_gradients(zip(gradients, variables))
        return means, outputs

    @tf.function
    def weight_of(batch):
        weights = strategy.run(lambda replica_batch: tf.reduce_sum(replica_batch["weight"]), args=(batch,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, weights, axis=None)

    @tf.function
    def distributed_step(batch, global_weight):
        means, outputs = strategy.run(replica_step, args=(batch, global_weight))
        return {name: strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
                for name, value in means.items()}, outputs

    def train_step(batch, batch_size=None):
        if samples_can_be_empty:
            global_weight = weight_of(batch)
            if float(global_weight) == 0:
                return None, None
        else:
            global_weight = tf.constant(float(batch_size), tf.float32)
        means, outputs = distributed_step(batch, global_weight)
        return means, {name: strategy.experimental_local_results(value)[0] for name, value in outputs.items()}

    return train_step


def train(args, job, steps):
    """Train until `steps` steps are done in all, on --batch-size samples a step, read by the input
    pipeline (input_pipeline) from job.read_sample(index), with the loss of make_train_step.

    job.learning_rate_at(step), when given, sets the rate of each step. Checkpoints (network,
    optimizer, step) go to job.folder every --save-every steps and at the end, the newest
    --keep-checkpoints kept; a run that finds one continues from the newest intact one
    (checkpoints.restore_newest_intact), when it was trained with the same class table, batch size
    and job.options ({name: value} of the script's options that change what a step computes;
    check_classes, check_training_options). Scalars (and a network's "sample" output every
    IMAGE_EVERY steps) go to TensorBoard logs in folder/logs. On a multi-worker run only the chief
    writes into the folder, and holds its lock (a second training of it stops in one line); a lost
    worker stops the others in one line.
    """
    chief = distribution.is_chief(args.strategy)
    # the chief alone writes the model folder; two runs training it at once would tear its checkpoints
    with file_io.folder_lock(job.folder, "training", f"a training of {job.name}") if chief else contextlib.nullcontext():
        try:
            return _train(args, job, steps, chief)
        except (tf.errors.UnavailableError, tf.errors.DeadlineExceededError, tf.errors.AbortedError) as error:
            if not distribution.is_multi_worker(args.strategy):
                raise
            # TensorFlow's coordination service notices a worker that stopped sending heartbeats
            raise errors.DataError(f"{job.folder}: a worker of the job was lost ({checkpoints.first_line(error)}); "
                                   "start every worker again: training continues from the last checkpoint") from None


def _train(args, job, steps, chief):
    network, optimizer, read_sample, description = job.network, job.optimizer, job.read_sample, job.name
    strategy, folder, batch_size = args.strategy, Path(job.folder), args.batch_size
    checkpoints.refuse_exported(folder)
    check_classes(folder, args.classes, training_starts=chief)
    check_training_options(folder, {"batch_size": batch_size, **job.options}, training_starts=chief)
    train_step = make_train_step(strategy, network, optimizer, job.batch_losses, args.jit, job.samples_can_be_empty)
    with strategy.scope():
        step = tf.Variable(0, dtype=tf.int64, name="step")
    checkpoint = tf.train.Checkpoint(network=network, optimizer=distribution.checkpointed_optimizer(optimizer),
                                     step=step)
    latest = checkpoints.restore_newest_intact(checkpoint, folder, set_aside=chief)
    if latest:
        LOG.info("%s: resuming from %s (step %d)", description, latest, int(step.numpy()))
    manager = tf.train.CheckpointManager(checkpoint, str(folder), max_to_keep=args.keep_checkpoints) if chief else None
    first = int(step.numpy())
    if first >= steps:
        return first
    reader = input_pipeline.SampleReader(read_sample, read_sample(first * batch_size))
    batches = input_pipeline.distributed_samples(strategy, reader, first, steps, batch_size, args.read_threads)
    writer = tf.summary.create_file_writer(str(folder / "logs")) if chief else tf.summary.create_noop_writer()
    with writer.as_default(), tqdm(total=steps, initial=first, desc=description, unit="step", file=sys.stderr,
                                   disable=not chief) as progress:
        try:
            for batch in batches:
                current = int(step.numpy())
                rate = job.learning_rate_at(current) if job.learning_rate_at else None
                terms, outputs = train_step(batch, batch_size)
                step.assign_add(1)
                if terms is not None:
                    scalars = {name: float(value) for name, value in terms.items()}
                    if rate is not None:
                        scalars["learning_rate"] = rate
                    for name, value in scalars.items():
                        log_scalar(name, value, current)
                    if "sample" in outputs and current % IMAGE_EVERY == 0:
                        log_image("sample", outputs["sample"].numpy(), current)
                    progress.set_postfix({name: f"{value:.4g}" for name, value in scalars.items()})
                progress.update()
                if int(step.numpy()) % args.save_every == 0 or int(step.numpy()) == steps:
                    distribution.save_checkpoint(manager, checkpoint, int(step.numpy()), strategy)
        except tf.errors.OpError:
            reader.reraise()   # a DataError of a sample is one line, not a TensorFlow trace
            raise
    return int(step.numpy())


TRAINING_OPTIONS_RECORD = "training_options.json"   # in a model folder: options a resumed run must keep
# what folders trained before the record (or before an option) had
TRAINING_OPTION_DEFAULTS = {"batch_size": 1, "contextual_weight": 0.0, "outside_weight": 0.0}


def check_training_options(folder, options, training_starts=False):
    """Options that change what a step computes are recorded when training starts in a model
    folder; a run that resumes from a checkpoint there with other values stops with one clear line.
    Until the first checkpoint the record binds nothing (a run that failed early leaves one)."""
    record = Path(folder) / TRAINING_OPTIONS_RECORD
    if checkpoints.newest(folder) is None:
        if training_starts:
            file_io.write_bytes_atomic(record, json.dumps(options, indent=1).encode())
        return
    recorded = {}   # folders trained before the record had the defaults
    if record.exists():
        try:
            recorded = json.loads(record.read_text())
            recorded.items()
        except (OSError, ValueError, AttributeError) as error:
            raise errors.DataError(f"{record}: not a training-options record ({error})") from None
    for name, value in options.items():
        before = recorded.get(name, TRAINING_OPTION_DEFAULTS.get(name))
        if before != value:
            raise errors.DataError(f"{record}: this model folder was trained with --{name.replace('_', '-')} "
                                   f"{before}, this run asks for {value}; resume with {before}, or train into "
                                   "another model folder")


IMPORT_RECORD = "imported_from.json"   # in a model folder imported from the original's (import_original_models.py)


def add_output_rounding_argument(parser):
    """--round-output, for the scripts whose test phase writes pixels (the synthesis scripts and
    the aligners)."""
    parser.add_argument("--round-output", action="store_true",
                        help="test phase: round the written pixels to the nearest level (the default truncates "
                             "them, as the original's np.uint8 did; the two differ by at most one level)")


def import_record(folder):
    """{what the import recorded} of a model folder imported from the original's checkpoints, {}
    for a model trained here."""
    record = Path(folder) / IMPORT_RECORD
    if not record.exists():
        return {}
    try:
        return dict(json.loads(record.read_text()))
    except ValueError as error:
        raise errors.DataError(f"{record}: not an import record ({error})") from None


CLASSES_RECORD = "classes.json"  # in a model folder: the class names its networks were built for


def check_classes(folder, classes, training_starts=False):
    """A network's channel counts follow the class table, so a model folder records the table's
    class names when training starts there and refuses another table afterwards (one clear line)."""
    record = Path(folder) / CLASSES_RECORD
    names = list(classes.names)
    has_checkpoint = checkpoints.newest(folder) is not None
    if record.exists() or has_checkpoint:
        try:
            # checkpoints from before class tables were Cityscapes'
            recorded = json.loads(record.read_text())["classes"] if record.exists() else list(class_table.CITYSCAPES.names)
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise errors.DataError(f"{record}: not a class record ({error})") from None
        if recorded != names:
            raise errors.DataError(f"{record}: the networks here were trained with {len(recorded)} classes "
                                   f"({', '.join(recorded[:3])}, ...), the data root's table has {len(names)} "
                                   f"({', '.join(names[:3])}, ...); use another model folder or the same table")
    elif training_starts:
        file_io.write_bytes_atomic(record, json.dumps({"classes": names}).encode())


def restore_for_test(folder, network, classes, result_folder=None, result_suffix=None, inputs=(), options=None):
    """Load the newest checkpoint of a network (one clear error when there is none, or when it was
    trained with another class table, check_classes). A test phase names its result folder and the
    folders of network results it reads (`inputs`): results made by other weights or from other
    inputs, or with other `options` ({name: value} of the test options that change what is
    written), are removed there, so that the phase writes them again instead of skipping them as
    finished (per_image_runner.keep_outputs_made_from)."""
    check_classes(folder, classes)
    latest = checkpoints.newest(folder)
    if latest is None:
        raise errors.DataError(f"{folder}: no checkpoint found; train the network first "
                               "(training_phase = True at the top of the script, or --train)")
    checkpoints.restore_for_test(tf.train.Checkpoint(network=network), latest)
    LOG.info("restored %s", latest)
    if result_folder is not None:
        # the .index file lists every variable with the checksum of its saved value
        sources = {"checkpoint": Path(latest).name,
                   "sha256": hashlib.sha256(Path(f"{latest}.index").read_bytes()).hexdigest(),
                   "inputs": [per_image_runner.made_from(path) for path in inputs]}
        if options:
            sources["options"] = options
        per_image_runner.keep_outputs_made_from(sources, result_folder, result_suffix)
    return latest


def test_each_file(input_folder, result_folder, result_of, description):
    """Write result_folder/NAME.mat with the variables result_of(NAME) returns, for every
    input_folder/NAME.mat; finished results are skipped, so an interrupted test phase resumes."""
    per_image_runner.run_per_image(
        lambda image_id: file_io.save_mat(result_folder / f"{data_root.image_name(image_id)}.mat",
                                         result_of(data_root.image_name(image_id))),
        data_root.list_image_ids(input_folder, suffix=".mat"),
        lambda image_id: [result_folder / f"{data_root.image_name(image_id)}.mat"], description=description)
