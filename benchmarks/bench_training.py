"""Training speed of the synthesis network at level 2 ("512"): the input pipeline, XLA, two devices.

On a data root with level-2 training canvases (run_demo.sh's, or any root after
data_prep/train_generate_synthesis.py --level 512), in one process:
  (a) the loader alone, samples/s: read_sample called in a loop on one thread, and the tf.data
      pipeline (parallel reads, prefetch);
  (b) training steps/s at the same batch size: the synchronous loop the scripts had before the
      pipeline (read a batch in Python, then step) and the pipeline;
  (c) steps/s of the pipeline with the step compiled by XLA (--jit);
  (d) samples/s per replica: MirroredStrategy over two logical CPU devices (batch 2) against one
      device (batch 1).
Then the level-4 ("1024", Cityscapes 1024x2048) reading cost: one sample's files at that size
(the root's first sample scaled up) read by the same functions, and the reading cores a GPU needs
at the rate the same network trains on an H100 (17 samples/s at batch 8, bfloat16; see docs/training_at_scale.md).
Every figure here is a CPU figure. Last line:
`pipeline_speedup=<x> loader_samples_per_s=<y> jit_speedup=<z>`.
"""

import argparse
import dataclasses
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "python_code"))

import script_setup  # noqa: E402,F401  (first: data_prep on the path, TensorFlow loaded quietly)
import training  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

import class_table  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import distribution  # noqa: E402
import file_io  # noqa: E402
import input_pipeline  # noqa: E402
import labels  # noqa: E402
import matlab_image_ops  # noqa: E402
import synthesis  # noqa: E402
import synthesis_512_1024  # noqa: E402
from synthesis_network import SynthesisNetwork  # noqa: E402
from vgg_features import load_vgg  # noqa: E402

LOG = logging.getLogger("sims")
H100_SAMPLES_PER_S = 17   # level 4, batch 8, bfloat16: the measured anchor of issue 16
GPUS_PER_NODE = 8


def per_second(count, function):
    start = time.perf_counter()
    function()
    return count / (time.perf_counter() - start)


def stacked(read_sample, indices):
    samples = [read_sample(index) for index in indices]
    return {name: tf.constant(np.stack([sample[name] for sample in samples])) for name in samples[0]}


def trainer(strategy, vgg, level, class_count, jit=False):
    with strategy.scope():
        network = SynthesisNetwork(level, class_count)
        optimizer = distribution.adam(1e-4)
    scale = synthesis.VGG16_TERM_SCALE if vgg.kind == "vgg16" else 1.0
    return training.make_train_step(strategy, network, optimizer,
                                    lambda batch: synthesis.batch_losses(network, vgg, scale, batch), jit,
                                    samples_can_be_empty=False)


def loader_samples_per_s(reader, samples, read_threads=None):
    """Samples/s of the pipeline alone, after its first sample (start-up)."""
    dataset = iter(input_pipeline.sample_dataset(reader, 0, samples + 1, batch_size=1, read_threads=read_threads))
    next(dataset)
    return per_second(samples, lambda: [None for _ in dataset])


def pipeline_steps_per_s(strategy, step, reader, steps, batch_size):
    """Steps/s over `steps` steps read by the pipeline, after one untimed step (tracing)."""
    batches = iter(input_pipeline.distributed_samples(strategy, reader, 0, steps + 1, batch_size))
    step(next(batches), batch_size)
    return per_second(steps, lambda: [step(batch, batch_size) for batch in batches])


def level4_reader(read_sample, args, folder):
    """read(index) of one level-4 sample at the Cityscapes size (canvas .mat, revised and clean label
    PNGs, image PNG, made from the root's first sample scaled up): what the synthesis loader reads
    and decodes per sample at level 4, returned as the loader returns it."""
    sample = read_sample(0)
    full = (1024, 2048)
    label = labels.index_to_label(matlab_image_ops.resize_nearest(sample["label_index"], full), args.classes)
    file_io.save_mat(folder / "canvas.mat", {"proposal": matlab_image_ops.resize_nearest(sample["canvas"], full)})
    for name, array in (("revised.png", label), ("clean.png", label),
                        ("image.png", matlab_image_ops.resize_nearest(sample["real_image"], full))):
        file_io.write_image(folder / name, array)

    def read(index):
        return {"canvas": file_io.load_mat(folder / "canvas.mat", ["proposal"])["proposal"],
                "label_index": labels.read_label(folder / "revised.png", classes=args.classes),
                "clean_index": labels.read_label(folder / "clean.png", classes=args.classes),
                "real_image": file_io.read_image(folder / "image.png")}

    return read


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True, help="data root with level-2 training canvases")
    parser.add_argument("--steps", type=int, default=4, help="timed steps per measurement (default 4)")
    parser.add_argument("--rounds", type=int, default=3, help="alternated rounds of (b) (default 3)")
    parser.add_argument("--samples", type=int, default=24, help="samples per loader measurement (default 24)")
    parser.add_argument("--batch-size", type=int, default=1, help="batch of (b) and (c) (default 1)")
    options = parser.parse_args(argv)
    command_line.setup_logging()
    distribution.split_cpu(2)
    root = options.root.resolve()
    args = argparse.Namespace(root=root, seed=0, sizes=data_root.load_sizes(root), classes=class_table.load_classes(root),
                              batch_size=options.batch_size)
    config = dataclasses.replace(synthesis_512_1024.CONFIG, sets=1)
    read_sample, _ = synthesis.sample_reader(config, args)
    reader = input_pipeline.SampleReader(read_sample, read_sample(0))
    cores = os.cpu_count()
    shape = args.sizes.shape(config.level)
    print(f"root={root} level=2 size={shape[0]}x{shape[1]} cores={cores} batch={options.batch_size}")

    # (a) the loader alone
    serial = per_second(options.samples, lambda: [read_sample(index) for index in range(options.samples)])
    parallel = loader_samples_per_s(reader, options.samples)
    print(f"(a) loader samples/s: one thread {serial:.1f}, pipeline {parallel:.1f}")

    # (b) synchronous loop against the pipeline, alternated so that drifts of the machine's speed
    # hit both; (c) the pipeline with XLA
    default = tf.distribute.get_strategy()
    vgg = load_vgg(root)
    step = trainer(default, vgg, config.level, args.classes.count)
    batch_size = options.batch_size
    step(stacked(read_sample, input_pipeline.step_samples(0, batch_size)), batch_size)
    synchronous, pipelined = 0.0, 0.0
    for _ in range(options.rounds):
        synchronous = max(synchronous, per_second(options.steps, lambda: [
            step(stacked(read_sample, input_pipeline.step_samples(index, batch_size)), batch_size)
            for index in range(1, options.steps + 1)]))
        pipelined = max(pipelined, pipeline_steps_per_s(default, step, reader, options.steps, batch_size))
    jit = pipeline_steps_per_s(default, trainer(default, vgg, config.level, args.classes.count, jit=True),
                               reader, options.steps, batch_size)
    print(f"(b) steps/s, best of {options.rounds} rounds: synchronous loop {synchronous:.3f}, pipeline {pipelined:.3f}")
    print(f"(c) steps/s with --jit: {jit:.3f}")

    # (d) two logical CPU devices against one
    mirrored = distribution.choose_strategy("mirrored", cpu_devices=2)
    with mirrored.scope():
        vgg_mirrored = load_vgg(root)
    two = pipeline_steps_per_s(mirrored, trainer(mirrored, vgg_mirrored, config.level, args.classes.count),
                               reader, options.steps, 2)   # batch 2 over 2 replicas: steps/s = samples/s per replica
    one = pipeline_steps_per_s(default, step, reader, options.steps, 1)
    print(f"(d) samples/s per replica: 2 logical CPU devices {two:.3f}, one device {one:.3f} "
          f"(ratio {two / one:.2f}; both share the same {cores} cores)")

    with tempfile.TemporaryDirectory() as folder:
        read_level4 = level4_reader(read_sample, args, Path(folder))
        seconds = 1.0 / per_second(3, lambda: [read_level4(index) for index in range(3)])
        parallel4 = loader_samples_per_s(input_pipeline.SampleReader(read_level4, read_level4(0)), 6 * cores, cores)
    print(f"level-4 sample (1024x2048): one thread reads {1 / seconds:.1f} samples/s, the pipeline with {cores} "
          f"threads {parallel4:.1f}; one GPU at {H100_SAMPLES_PER_S} samples/s needs about "
          f"{H100_SAMPLES_PER_S * seconds:.1f} reading cores, an {GPUS_PER_NODE}-GPU node "
          f"{GPUS_PER_NODE * H100_SAMPLES_PER_S * seconds:.1f}")
    print(f"pipeline_speedup={pipelined / synchronous:.2f} loader_samples_per_s={parallel:.1f} "
          f"jit_speedup={jit / pipelined:.2f}")


if __name__ == "__main__":
    main()
