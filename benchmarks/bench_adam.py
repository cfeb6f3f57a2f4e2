"""Speed of the optimizer: the original's Adam (distribution.OriginalAdam, TensorFlow's fused
ApplyAdam kernel) against Keras' Adam, on the synthesis network's weights at level 1 (56 million),
alone and inside the demo's training step (base height 32, the VGG16 loss).

Both are timed in the same run, so the last line's ratios hold on any machine:
`adam_update_speedup=<x> demo_step_speedup=<y>` (Keras' time over the original's).
"""

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import command_line  # noqa: E402
import distribution  # noqa: E402
import synthesis  # noqa: E402
import training  # noqa: E402
from synthesis_network import SynthesisNetwork  # noqa: E402
from vgg_features import load_vgg  # noqa: E402

SHAPE = (32, 64)   # the quick demo's level 1


def seconds_per_call(function, repeats):
    function()   # trace and warm up
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def timings(make_optimizer, vgg, repeats):
    """(seconds of one update of every weight, seconds of one demo training step)."""
    network = SynthesisNetwork(1, 19)
    rng = np.random.default_rng(0)
    index = tf.constant(rng.integers(0, 19, (1,) + SHAPE), tf.uint8)
    pixels = tf.constant(rng.integers(0, 256, (1,) + SHAPE + (3,)), tf.uint8)
    batch = {"label_index": index, "canvas": pixels, "real_image": pixels, "clean_index": index, "weight": tf.ones([1])}
    step = training.make_train_step(tf.distribute.get_strategy(), network, make_optimizer(),
                                    lambda batch: synthesis.batch_losses(network, vgg, synthesis.VGG16_TERM_SCALE, batch),
                                    samples_can_be_empty=False)
    step_seconds = seconds_per_call(lambda: step(batch, 1)[0]["total"].numpy(), repeats)
    optimizer = make_optimizer()
    optimizer.build(network.trainable_variables)
    gradients = [tf.fill(variable.shape, 1e-3) for variable in network.trainable_variables]
    update = tf.function(lambda: optimizer.apply_gradients(zip(gradients, network.trainable_variables)))
    update_seconds = seconds_per_call(lambda: update() and None, repeats)
    return update_seconds, step_seconds


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args(argv)
    command_line.setup_logging()
    vgg = load_vgg(Path(__file__).resolve().parent.parent)
    keras_update, keras_step = timings(lambda: keras.optimizers.Adam(1e-4), vgg, args.repeats)
    original_update, original_step = timings(lambda: distribution.adam(1e-4), vgg, args.repeats)
    print(f"keras_adam update_s={keras_update:.3f} demo_step_s={keras_step:.3f}")
    print(f"original_adam update_s={original_update:.3f} demo_step_s={original_step:.3f}")
    print(f"adam_update_speedup={keras_update / original_update:.2f} demo_step_speedup={keras_step / original_step:.2f}")


if __name__ == "__main__":
    main()
