"""Speed of the networks: forward and training-step time, FLOPs, and how close they run to the
machine's matmul speed measured in the same run.

Each network runs at base height 64 (make_demo_dataset.py's default; run_demo.sh uses 32) and
at 256x512: the transformation network on 10 proposals, the ordering network on 10 pairs, the synthesis
network at levels 1 and 2 (one image; its training step includes the VGG loss). FLOPs of the
forward pass come from TensorFlow's graph profiler; the achieved FLOP/s are divided by those of
a 4096x4096 float32 matmul timed here. The last line reads `synthesis_256_fraction_of_matmul=<x>`
(level 1 at 256x512).
"""

import argparse
import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import training  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import command_line  # noqa: E402
import distribution  # noqa: E402
import order_network  # noqa: E402
import synthesis  # noqa: E402
import transform_network  # noqa: E402
from network_blocks import one_hot_labels  # noqa: E402
from synthesis_network import SynthesisNetwork  # noqa: E402
from vgg_features import load_vgg  # noqa: E402

LOG = logging.getLogger("sims")
MATMUL_SIZE = 4096


def best_time(run, repeats):
    run()  # trace and warm up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def forward_flops(function, *inputs):
    """FLOPs of one call, from the profiler over the traced graph."""
    graph = tf.function(function).get_concrete_function(*inputs).graph
    options = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
    options["output"] = "none"
    return tf.compat.v1.profiler.profile(graph, options=options).total_float_ops


def matmul_flops_per_second(repeats):
    a = tf.random.uniform([MATMUL_SIZE, MATMUL_SIZE])
    b = tf.random.uniform([MATMUL_SIZE, MATMUL_SIZE])
    seconds = best_time(lambda: tf.linalg.matmul(a, b).numpy(), repeats)
    return 2 * MATMUL_SIZE ** 3 / seconds


def one_device_step(network, optimizer, batch_losses):
    """The scripts' training step on one device; takes a batch (the train_step's input)."""
    step = training.make_train_step(tf.distribute.get_strategy(), network, optimizer,
                                    lambda batch: batch_losses(network, batch), samples_can_be_empty=False)
    return lambda batch: step(batch, 1)


def network_case(name, shape, vgg=None, recompute=False):
    """(forward(*inputs), train step(batch), inputs, batch) of one network at one image size, batch 1:
    "transformation" on 10 proposals, "order" on 10 pairs, "synthesis_256|512|1024" (the level;
    its step includes the VGG loss `vgg`); recompute: the synthesis network's --recompute."""
    rng = np.random.default_rng(0)
    index = rng.integers(0, 19, (1,) + shape).astype(np.uint8)
    label = one_hot_labels(index, 19)
    images = tf.constant(rng.random((10,) + shape + (3,)), tf.float32)
    masks = tf.constant(rng.random((10,) + shape + (1,)) > 0.5, tf.float32)
    pixels = tf.cast(images * 255, tf.uint8)
    weight = tf.ones([1])
    if name == "transformation":
        transform = transform_network.TransformNetwork(19, input_scale=2)
        return (lambda p, m, l: transform(p, m, l)[0],
                one_device_step(transform, distribution.adam(1e-5), transform_network.batch_losses),
                (images, masks, label), {"proposals": pixels[None], "masks": tf.cast(masks[None, ..., 0], tf.uint8),
                                         "label_index": index, "real_image": pixels[:1], "weight": weight})
    if name == "order":
        ordering = order_network.OrderNetwork(19)
        return (ordering, one_device_step(ordering, distribution.adam(1e-5), order_network.batch_losses),
                (images, images), {"pair_masks": pixels[None], "label": pixels[:1], "weight": weight,
                                   "front": tf.constant(rng.integers(1, 20, (1, 10)), tf.int32),
                                   "pair_weight": tf.ones([1, 10]),
                                   "dropout_keep": tf.ones([1, 10, order_network.HIDDEN_UNITS])})
    level = {"synthesis_256": 1, "synthesis_512": 2, "synthesis_1024": 4}[name]
    network = SynthesisNetwork(level, 19, recompute=recompute)
    step = one_device_step(network, distribution.adam(1e-4),
                           lambda net, batch: synthesis.batch_losses(net, vgg, synthesis.VGG16_TERM_SCALE, batch))
    return (network, step, (label, images[:1], masks[:1]),
            {"label_index": index, "canvas": pixels[:1], "real_image": pixels[:1], "clean_index": index,
             "weight": weight})


def cases(shape, vgg):
    """(name, forward(*inputs), train step(batch), inputs, batch) of every network at one image size."""
    for name in ("transformation", "order", "synthesis_256", "synthesis_512"):
        yield (name,) + network_case(name, shape, vgg)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    command_line.setup_logging()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # the v1 profiler's deprecation notices
    matmul = matmul_flops_per_second(args.repeats)
    print(f"matmul_gflops={matmul / 1e9:.1f}")
    vgg = load_vgg(Path(__file__).resolve().parent.parent)
    fraction = None
    for size_name, shape in (("demo", (64, 128)), ("256x512", (256, 512))):
        for name, forward, train_step, inputs, train_inputs in cases(shape, vgg):
            flops = forward_flops(forward, *inputs)
            forward_seconds = best_time(lambda: tf.nest.map_structure(np.asarray, forward(*inputs)), args.repeats)
            step_seconds = best_time(lambda: tf.nest.map_structure(np.asarray, train_step(train_inputs)[0]), 1)
            achieved = flops / forward_seconds / matmul
            print(f"{name}@{size_name} forward_s={forward_seconds:.3f} train_step_s={step_seconds:.3f} "
                  f"gflops={flops / 1e9:.2f} fraction_of_matmul={achieved:.3f}")
            if name == "synthesis_256" and size_name == "256x512":
                fraction = achieved
    print(f"synthesis_256_fraction_of_matmul={fraction:.3f}")


if __name__ == "__main__":
    main()
