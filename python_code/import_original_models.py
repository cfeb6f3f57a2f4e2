"""Import the authors' trained models (the original release's trainedmodels/) into a data root.

  python_code/import_original_models.py --models DIR [--root ROOT] [--with-optimizer]

DIR is the unpacked trainedmodels/ of the original release (its scripts save to transform/0100,
order/0100, synthesis_256_512/0800, synthesis/synthesis_512/0100, synthesis/synthesis_1024/0100).
Every TensorFlow 1 checkpoint found under DIR is identified by its variables (transformer,
ordering network, synthesis level 1, 2 or 4), mapped variable by variable (same name and shape)
onto the port's network, and written as a port checkpoint into the model folder the port's
scripts read (ROOT/trainedmodels/...), with the class record the test phases check and
imported_from.json (the source checkpoint, the SHA-256 of its index, what was changed).

What is changed so that the port computes what the original computed with the same weights:
- synthesis: the original trained against cv2.imread targets, so its networks output BGR. The
  output convolutions are permuted (g_*_conv100, and at level 4 the inputs of g_1024_conv100 that
  take the level-2 image) so that an imported network outputs RGB like every port model.
- ordering: the original averages the last feature map over a fixed [8, 12] VALID window (the
  port pools globally); the window is recorded and order.py uses it for this model.
Adam's slots and beta powers are dropped unless --with-optimizer: then they are imported too (the
original's Adam is the port's, epsilon 1e-8, so training continues where the authors stopped;
the step counter restarts at 0, which only moves the learning-rate schedule).
"""

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
from pathlib import Path

import script_setup  # noqa: F401  (first: data_prep on the path, TensorFlow loaded quietly)
import tensorflow as tf

import class_table
import command_line
import distribution
import errors
import folders
import training
from order_network import OrderNetwork
from synthesis_network import SynthesisNetwork
from transform_network import TransformNetwork

LOG = logging.getLogger("sims")
ADAM_SLOTS = {"/Adam": "m", "/Adam_1": "v"}     # TF1 AdamOptimizer's slot names
BETA_POWERS = ("beta1_power", "beta2_power")
ORIGINAL_ORDER_POOL_WINDOW = [8, 12]   # order.py's g_selection_pool6: avg_pool2d([8, 12], VALID)
ADAM_BETA_1 = 0.9


class OriginalModel:
    """One of the original's networks: how it is recognised, built and placed in a data root."""

    def __init__(self, name, marker, folder, build, logits_variable, rgb_layers=(), level_two_input=None,
                 record=None):
        self.name, self.marker, self.folder, self.build = name, marker, folder, build
        self.logits_variable = logits_variable       # its last axis is the class count + 1
        self.rgb_layers = rgb_layers                 # output convolutions that write BGR in the original
        self.level_two_input = level_two_input       # level 4: the layer whose last 3 inputs are the level-2 image
        self.record = record or {}


MODELS = [   # the first whose marker variable a checkpoint holds
    OriginalModel("synthesis level 4", "g_1024_conv100/weights", folders.synthesis_model("1024"),
                  lambda count: SynthesisNetwork(4, count), "g_semantic_512/weights",
                  rgb_layers=("g_512_conv100", "g_1024_conv100"), level_two_input="g_1024_conv100"),
    OriginalModel("synthesis level 2", "g_512_conv100/weights", folders.synthesis_model("512"),
                  lambda count: SynthesisNetwork(2, count), "g_semantic_512/weights", rgb_layers=("g_512_conv100",)),
    OriginalModel("synthesis level 1", "g_256_conv100/weights", folders.synthesis_model("256"),
                  lambda count: SynthesisNetwork(1, count), "g_semantic_256_conv100/weights",
                  rgb_layers=("g_256_conv100",)),
    OriginalModel("ordering network", "g_selection_classify/weights", folders.ORDER_MODEL,
                  lambda count: OrderNetwork(count), "g_selection_classify/weights",
                  record={"pool_window": ORIGINAL_ORDER_POOL_WINDOW}),
    OriginalModel("transformation network", "g_transform_param", folders.TRANSFORM_MODEL,
                  lambda count: TransformNetwork(count), None),
]


def find_checkpoints(models):
    """The checkpoint prefixes (PATH/model.ckpt for PATH/model.ckpt.index) under the folder `models`."""
    if not models.is_dir():
        raise errors.DataError(f"{models}: not a folder (the unpacked trainedmodels/ of the original release)")
    prefixes = sorted(str(index)[:-len(".index")] for index in models.rglob("*.index"))
    if not prefixes:
        raise errors.DataError(f"{models}: no TensorFlow checkpoint (*.index) under it")
    return prefixes


def checkpoint_shapes(prefix):
    """{variable name: shape} of a checkpoint (one clear error when TensorFlow cannot read it)."""
    try:
        return {name: tuple(shape) for name, shape in tf.train.load_checkpoint(prefix).get_variable_to_shape_map().items()}
    except (tf.errors.OpError, ValueError) as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise errors.DataError(f"{prefix}: not a checkpoint TensorFlow 2 can read ({message})") from None


def identify(prefix, shapes):
    for model in MODELS:
        if model.marker in shapes:
            return model
    raise errors.DataError(f"{prefix}: not one of the original's networks (none of "
                           f"{', '.join(model.marker for model in MODELS)} among its variables)")


def class_count_of(model, shapes):
    if model.logits_variable is not None:
        return int(shapes[model.logits_variable][-1]) - 1
    # the transformer's first convolution reads the proposal (3), its mask (1) and the label (K + 1)
    return int(shapes["g_transform_conv1/g_transform_conv1_1/weights"][2]) - 5


def variable_name(variable):
    return variable.name.split(":")[0]


def check_variables(prefix, model, network, shapes):
    """One clear error for a variable the port's network lacks or has with another shape, or one
    the checkpoint lacks (Adam's slots and beta powers aside)."""
    weights = {name: shape for name, shape in shapes.items()
               if name not in BETA_POWERS and not name.endswith(tuple(ADAM_SLOTS))}
    wanted = {variable_name(variable): tuple(variable.shape) for variable in network.variables}
    missing = sorted(set(wanted) - set(weights))
    if missing:
        raise errors.DataError(f"{prefix}: {model.name} without {missing[0]}"
                               + (f" and {len(missing) - 1} more variables" if len(missing) > 1 else ""))
    unexpected = sorted(set(weights) - set(wanted))
    if unexpected:
        raise errors.DataError(f"{prefix}: variable {unexpected[0]} is not part of the port's {model.name}")
    for name, shape in wanted.items():
        if weights[name] != shape:
            raise errors.DataError(f"{prefix}: {name} is {weights[name]}, the port's {model.name} has {shape} "
                                   "(a model of another network size or class count)")


def bgr_to_rgb(model, values):
    """The values with the synthesis network's BGR outputs turned into RGB ones (same function
    otherwise): the output channels of the rgb layers reversed, and at level 4 the input channels
    of g_1024_conv100 that read the level-2 image."""
    values = dict(values)
    for layer in model.rgb_layers:
        values[f"{layer}/weights"] = values[f"{layer}/weights"][..., ::-1]
        values[f"{layer}/biases"] = values[f"{layer}/biases"][::-1]
    if model.level_two_input:
        weights = values[f"{model.level_two_input}/weights"].copy()
        weights[:, :, -3:, :] = weights[:, :, -3:, :][:, :, ::-1, :]
        values[f"{model.level_two_input}/weights"] = weights
    return values


def read_values(reader, names, suffix=""):
    return {name: reader.get_tensor(name + suffix) for name in names}


def build_optimizer(prefix, reader, model, network, with_optimizer):
    """The port's Adam over the network; with_optimizer fills its moments from the checkpoint's
    Adam slots (permuted as the weights are) and its step count from beta1_power."""
    optimizer = distribution.checkpointed_optimizer(distribution.adam(1e-4))
    optimizer.build(network.trainable_variables)
    if not with_optimizer:
        return optimizer, "dropped"
    shapes = reader.get_variable_to_shape_map()
    names = [variable_name(variable) for variable in network.trainable_variables]
    for suffix, moments in (("/Adam", optimizer._momentums), ("/Adam_1", optimizer._velocities)):
        lacking = [name for name in names if name + suffix not in shapes]
        if lacking:
            raise errors.DataError(f"{prefix}: --with-optimizer, but {lacking[0]}{suffix} is not in the checkpoint")
        slots = bgr_to_rgb(model, read_values(reader, names, suffix))
        for variable in network.trainable_variables:
            moments[optimizer._get_variable_index(variable)].assign(slots[variable_name(variable)])
    if "beta1_power" not in shapes:
        raise errors.DataError(f"{prefix}: --with-optimizer, but beta1_power is not in the checkpoint")
    # TF1 keeps beta1^(t + 1) after t steps
    steps = round(math.log(float(reader.get_tensor("beta1_power"))) / math.log(ADAM_BETA_1)) - 1
    optimizer.iterations.assign(steps)
    return optimizer, f"imported (Adam's moments after {steps} steps)"


def import_checkpoint(prefix, root, classes, with_optimizer):
    """Write the port's model folder of the checkpoint `prefix` into root (checked by check_import)."""
    shapes = checkpoint_shapes(prefix)
    model = identify(prefix, shapes)
    destination = root / model.folder
    network = model.build(class_count_of(model, shapes))
    check_variables(prefix, model, network, shapes)
    reader = tf.train.load_checkpoint(prefix)
    weights = bgr_to_rgb(model, read_values(reader, [variable_name(variable) for variable in network.variables]))
    for variable in network.variables:
        variable.assign(weights[variable_name(variable)])
    optimizer, optimizer_note = build_optimizer(prefix, reader, model, network, with_optimizer)
    record = {"network": model.name, "source": os.path.abspath(prefix),
              "index_sha256": hashlib.sha256(Path(f"{prefix}.index").read_bytes()).hexdigest(),
              "variables": len(weights), "optimizer": optimizer_note,
              "bgr_to_rgb": list(model.rgb_layers), **model.record}
    destination.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{destination.name}.import-", dir=destination.parent))
    try:
        checkpoint = tf.train.Checkpoint(network=network, optimizer=optimizer,
                                         step=tf.Variable(0, dtype=tf.int64, name="step"))
        tf.train.CheckpointManager(checkpoint, str(staging), max_to_keep=3).save(checkpoint_number=0)
        (staging / training.CLASSES_RECORD).write_text(json.dumps({"classes": list(classes.names)}))
        (staging / training.TRAINING_OPTIONS_RECORD).write_text(json.dumps({"batch_size": 1}))  # the original's
        (staging / training.IMPORT_RECORD).write_text(json.dumps(record, indent=1))
        if destination.exists():
            destination.rmdir()   # empty (check_import)
        os.replace(staging, destination)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    LOG.info("%s: %s -> %s (%d variables, optimizer %s)", prefix, model.name, destination, len(weights), optimizer_note)
    return destination


def check_import(prefix, root, classes, seen):
    """Everything that would stop the import of `prefix`, checked before any model is written."""
    shapes = checkpoint_shapes(prefix)
    model = identify(prefix, shapes)
    if model.name in seen:
        raise errors.DataError(f"{prefix}: a second checkpoint of the {model.name} (the first: {seen[model.name]}); "
                               "keep one")
    seen[model.name] = prefix
    count = class_count_of(model, shapes)
    if count != classes.count:
        raise errors.DataError(f"{prefix}: the {model.name} was trained for {count} classes, the data root's class "
                               f"table has {classes.count} ({', '.join(classes.names[:3])}, ...)")
    check_variables(prefix, model, model.build(count), shapes)
    destination = root / model.folder
    if destination.exists() and any(destination.iterdir()):
        raise errors.DataError(f"{destination}: already holds a model ({model.name}); move or delete that folder "
                               "to import this one")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=Path, required=True, help="the original release's trainedmodels/ folder")
    command_line.add_root_argument(parser)
    parser.add_argument("--with-optimizer", action="store_true",
                        help="import Adam's moments too, to continue training where the authors stopped")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    classes = class_table.load_classes(root)
    prefixes = find_checkpoints(args.models)
    seen = {}
    for prefix in prefixes:
        check_import(prefix, root, classes, seen)
    for prefix in prefixes:
        import_checkpoint(prefix, root, classes, args.with_optimizer)


if __name__ == "__main__":
    command_line.run_cli(main)
