"""Where a network trains: one device, every GPU of one machine, or several machines
(tf.distribute), plus mixed precision. Shared by transformation.py, order.py and the synthesis
scripts through training.parse_arguments.

--distribute off           TensorFlow's default strategy: one device, as before.
--distribute mirrored      MirroredStrategy over every visible GPU, the devices --devices names, or
                           the logical CPUs --cpu-devices makes (to try it without a GPU).
--distribute multi-worker  MultiWorkerMirroredStrategy, configured by the TF_CONFIG variable that
                           every process of the job gets (cluster addresses and its own task).
--distribute auto          multi-worker when TF_CONFIG is set, mirrored when there is more than one
                           GPU (or logical CPU), else off; on several GPUs with a --batch-size that
                           they cannot share (the default 1), one GPU, with a line saying so.
The chief (task "chief", or worker 0 when the cluster has no chief) writes checkpoints, logs and
records; every other worker saves into a temporary folder that is removed at once, because saving
mirrored variables is a collective step every worker has to take part in.
"""

import functools
import json
import logging
import os
import shutil
import tempfile

import keras
import tensorflow as tf

import checkpoints
import command_line
import errors
import network_blocks

LOG = logging.getLogger("sims")
MODES = ("auto", "off", "mirrored", "multi-worker")


def add_arguments(parser):
    parser.add_argument("--batch-size", type=command_line.positive_int, default=1,
                        help="samples per training step, split across replicas (default 1, as the original)")
    parser.add_argument("--distribute", choices=MODES, default="auto",
                        help="off: one device; mirrored: every GPU of this machine (or --devices); "
                             "multi-worker: the machines TF_CONFIG lists; auto (default): multi-worker when "
                             "TF_CONFIG is set, mirrored when there are several GPUs, else off")
    parser.add_argument("--devices", type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
                        help="mirrored: the devices to use, e.g. /gpu:0,/gpu:1 (default: every GPU)")
    parser.add_argument("--cpu-devices", type=command_line.positive_int, default=1,
                        help="split the CPU into this many logical devices (tries distribution without a GPU)")
    parser.add_argument("--read-threads", type=command_line.positive_int,
                        help="samples read in parallel by the input pipeline (default: tf.data decides)")
    parser.add_argument("--mixed-precision", action="store_true",
                        help="compute in float16 on a GPU (with loss scaling) or bfloat16 on a CPU; "
                             "variables and checkpoints stay float32")
    parser.add_argument("--jit", action="store_true", help="compile the training step with XLA")


def read_tf_config(environ=os.environ):
    """The TF_CONFIG variable, checked (one clear line when it is missing or malformed)."""
    text = environ.get("TF_CONFIG")
    if not text:
        raise errors.DataError("TF_CONFIG is not set: --distribute multi-worker needs it in every process of the "
                               "job, e.g. {\"cluster\": {\"worker\": [\"host1:12345\", \"host2:12345\"]}, "
                               "\"task\": {\"type\": \"worker\", \"index\": 0}}")
    try:
        config = json.loads(text)
    except ValueError as error:
        raise errors.DataError(f"TF_CONFIG is not JSON ({error})") from None
    cluster = config.get("cluster") if isinstance(config, dict) else None
    task = config.get("task") if isinstance(config, dict) else None
    if not isinstance(cluster, dict) or not cluster or not all(
            isinstance(addresses, list) and addresses and all(isinstance(a, str) and ":" in a for a in addresses)
            for addresses in cluster.values()):
        raise errors.DataError("TF_CONFIG: \"cluster\" must map job names to lists of \"host:port\" addresses")
    if not isinstance(task, dict) or task.get("type") not in cluster or not isinstance(task.get("index"), int) \
            or not 0 <= task["index"] < len(cluster[task["type"]]):
        raise errors.DataError(f"TF_CONFIG: \"task\" must name one of the cluster's jobs ({', '.join(cluster)}) "
                               f"and an index into its addresses, not {json.dumps(task)}")
    return config


def split_cpu(count):
    """Make `count` logical CPU devices; must run before TensorFlow starts its runtime."""
    if count == 1:
        return
    cpu = tf.config.list_physical_devices("CPU")[0]
    configured = tf.config.get_logical_device_configuration(cpu) or []
    if len(configured) == count:
        return   # an earlier run of this process split it already
    try:
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
    except RuntimeError:
        raise errors.DataError(f"--cpu-devices {count}: TensorFlow has started already in this process with "
                               f"{max(len(configured), 1)} CPU device(s)") from None


def auto_mode(environ, devices, gpu_count, cpu_devices, batch_size):
    """What --distribute auto means here. Several GPUs found (not asked for with --devices or
    --cpu-devices) with a batch they cannot split evenly, such as the default 1, train on one: the
    plain training command works on any machine, and the batch stays the one asked for."""
    if environ.get("TF_CONFIG"):
        return "multi-worker"
    if devices or cpu_devices > 1:
        return "mirrored"
    if gpu_count > 1:
        if batch_size % gpu_count:
            LOG.info("--batch-size %d cannot be split over the %d GPUs: training on one; pass --batch-size %d "
                     "(or a multiple) to use them all", batch_size, gpu_count, gpu_count)
            return "off"
        return "mirrored"
    return "off"


def choose_strategy(mode, devices=None, cpu_devices=1, environ=os.environ, batch_size=1):
    """The tf.distribute strategy of a --distribute mode (see the module's docstring)."""
    gpus = tf.config.list_physical_devices("GPU")
    if mode == "auto":
        mode = auto_mode(environ, devices, len(gpus), cpu_devices, batch_size)
    if mode == "multi-worker":
        read_tf_config(environ)
        return _strategy(mode, environ["TF_CONFIG"])
    if mode == "mirrored":
        if not devices and not gpus and cpu_devices > 1:
            devices = [f"/cpu:{index}" for index in range(cpu_devices)]
        return _strategy(mode, tuple(devices or ()))
    return tf.distribute.get_strategy()


@functools.lru_cache(maxsize=None)
def _strategy(mode, where):
    """One strategy per process and setting: a second strategy of the same kind would restart the
    numbering of the collective operations the first one still uses (runs called in one process)."""
    if mode == "multi-worker":
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    else:
        strategy = tf.distribute.MirroredStrategy(devices=list(where) or None)
    LOG.info("training with %s over %d replica(s)", type(strategy).__name__, strategy.num_replicas_in_sync)
    return strategy


def use_mixed_precision():
    """Keras' mixed policy: float16 on a GPU (needs loss scaling), bfloat16 on a CPU."""
    policy = "mixed_float16" if tf.config.list_physical_devices("GPU") else "mixed_bfloat16"
    keras.mixed_precision.set_global_policy(policy)
    LOG.info("mixed precision: %s", policy)


ORIGINAL_ADAM_EPSILON = 1e-8   # tf.train.AdamOptimizer's default, which every original script used


def adam(learning_rate):
    """Adam with the original's epsilon, wrapped in dynamic loss scaling when the networks compute
    in float16. (TensorFlow's fused ApplyAdam kernel, the original's, was a fifth faster on the demo's
    steps but made two identical training runs differ in their last bits, and so resumed runs
    differ from uninterrupted ones; benchmarks/README.md, "Optimizer speed". Keras' update stays.)"""
    optimizer = keras.optimizers.Adam(learning_rate, epsilon=ORIGINAL_ADAM_EPSILON)
    if network_blocks.compute_dtype() == tf.float16:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def checkpointed_optimizer(optimizer):
    """The optimizer a checkpoint holds: the inner one of a loss-scaling wrapper, so that checkpoints
    look the same with and without float16 (a resumed float16 run starts its loss scale afresh)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def is_chief(strategy):
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0 and "chief" not in resolver.cluster_spec().jobs)


def is_multi_worker(strategy):
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy)


def save_checkpoint(manager, checkpoint, step, strategy):
    """Save on every worker, as tf.distribute asks: the chief into the model folder, the others into
    a temporary folder that is removed at once."""
    if is_chief(strategy):
        checkpoints.save(manager, step)
        return
    temporary = tempfile.mkdtemp(prefix="sims-worker-checkpoint-")
    try:
        checkpoint.write(os.path.join(temporary, "ckpt"))
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
