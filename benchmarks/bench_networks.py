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

import training  # noqa: E402,F401  (first: quiets TensorFlow, sets up the data_prep path)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import order_network  # noqa: E402
import synthesis  # noqa: E402
import transform_network  # noqa: E402
import sims_common as common  # noqa: E402
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


def cases(shape, vgg):
    """(name, forward(*inputs), train step(*inputs), inputs) of every network at one image size."""
    rng = np.random.default_rng(0)
    label = tf.constant(common.one_hot_labels(rng.integers(0, 19, shape).astype(np.uint8))[None], tf.float32)
    images = tf.constant(rng.random((10,) + shape + (3,)), tf.float32)
    masks = tf.constant(rng.random((10,) + shape + (1,)) > 0.5, tf.float32)

    transform = transform_network.TransformNetwork(input_scale=2)
    transform_step = transform_network.make_train_step(transform, tf.keras.optimizers.Adam(1e-5))
    yield ("transformation", lambda p, m, l: transform(p, m, l)[0], transform_step,
           (images, masks, label), (images, masks, label, images[:1] * 255))

    ordering = order_network.OrderNetwork()
    order_step = order_network.make_train_step(ordering, tf.keras.optimizers.Adam(1e-5))
    fronts = tf.constant(rng.integers(1, 20, 10), tf.int32)
    yield ("order", ordering, order_step, (images, images), (images, images, fronts, tf.constant([0, 1])))

    for level in (1, 2):
        network = SynthesisNetwork(level)
        step = synthesis.make_train_step(network, vgg, tf.keras.optimizers.Adam(1e-4), synthesis.VGG16_TERM_SCALE)
        inputs = (label, images[:1], masks[:1])
        yield (f"synthesis_{synthesis.LEVEL_NAMES[level]}", network, step, inputs, inputs + (images[:1] * 255, label))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    common.setup_logging()
    logging.getLogger("tensorflow").setLevel(logging.ERROR)  # the v1 profiler's deprecation notices
    matmul = matmul_flops_per_second(args.repeats)
    print(f"matmul_gflops={matmul / 1e9:.1f}")
    vgg = load_vgg(Path(__file__).resolve().parent.parent)
    fraction = None
    for size_name, shape in (("demo", (64, 128)), ("256x512", (256, 512))):
        for name, forward, train_step, inputs, train_inputs in cases(shape, vgg):
            flops = forward_flops(forward, *inputs)
            forward_seconds = best_time(lambda: tf.nest.map_structure(np.asarray, forward(*inputs)), args.repeats)
            step_seconds = best_time(lambda: tf.nest.map_structure(np.asarray, train_step(*train_inputs)), 1)
            achieved = flops / forward_seconds / matmul
            print(f"{name}@{size_name} forward_s={forward_seconds:.3f} train_step_s={step_seconds:.3f} "
                  f"gflops={flops / 1e9:.2f} fraction_of_matmul={achieved:.3f}")
            if name == "synthesis_256" and size_name == "256x512":
                fraction = achieved
    print(f"synthesis_256_fraction_of_matmul={fraction:.3f}")


if __name__ == "__main__":
    main()
