"""The samples of a training run as a tf.data pipeline, read in parallel and ahead of the step.

A network script describes one sample with read_sample(index) -> {name: numpy array}: the files
it reads and the random choices it makes are functions of the run's seed and the sample's global
index only (training.step_rng, training.epoch_image), so a sample is the same whoever reads it and
whenever. Step s of a run with batch size B trains on samples s*B .. s*B + B - 1; replica r of R
takes the slice r*B/R .. (r + 1)*B/R - 1 of them. The pipeline maps indices to samples with
read_sample on several threads, keeps their order, batches them per replica and prefetches, so
that reading overlaps the step; each worker of a multi-worker run reads only its replicas' slices.
Every sample of a run must have the same arrays and shapes (scripts pad variable counts).
"""

import numpy as np
import tensorflow as tf

import errors


def step_samples(step, batch_size):
    """Global indices of the samples of a training step."""
    return range(step * batch_size, (step + 1) * batch_size)


class SampleReader:
    """read_sample wrapped for tf.data: checks each sample against the first one's arrays, and
    keeps the DataError a sample raised (tf.data reports it only as a failed numpy_function)."""

    def __init__(self, read_sample, example):
        self.read_sample = read_sample
        self.names = sorted(example)
        self.dtypes = [np.asarray(example[name]).dtype for name in self.names]
        self.shapes = [np.asarray(example[name]).shape for name in self.names]
        self.error = None

    def _read(self, index):
        try:
            sample = self.read_sample(int(index))
            if sorted(sample) != self.names:
                raise errors.DataError(f"sample {int(index)} holds {sorted(sample)}, the first one {self.names}")
            arrays = [np.asarray(sample[name], dtype) for name, dtype in zip(self.names, self.dtypes)]
            for name, array, shape in zip(self.names, arrays, self.shapes):
                if array.shape != shape:
                    raise errors.DataError(f"sample {int(index)}: {name} is {array.shape}, the first sample's {shape}")
            return arrays
        except errors.DataError as error:
            self.error = error
            raise

    def __call__(self, index):
        arrays = tf.numpy_function(self._read, [index], [tf.as_dtype(dtype) for dtype in self.dtypes],
                                   stateful=False)
        for array, shape in zip(arrays, self.shapes):
            array.set_shape(shape)
        return dict(zip(self.names, arrays))

    def reraise(self):
        """Raise the DataError behind a failed read, if there was one."""
        if self.error is not None:
            raise self.error


def sample_dataset(reader, first_step, end_step, batch_size, replica_count=1, replica_ids=(0,), read_threads=None):
    """Per-replica batches of steps first_step .. end_step - 1, for each of replica_ids in turn at
    every step (the order tf.distribute hands a worker's elements to its replicas)."""
    per_replica = batch_size // replica_count
    ids = tf.constant(list(replica_ids), tf.int64)

    def sample_index(position):
        element, within = position // per_replica, position % per_replica
        step = first_step + element // len(replica_ids)
        return step * batch_size + tf.gather(ids, element % len(replica_ids)) * per_replica + within

    count = max(end_step - first_step, 0) * len(replica_ids) * per_replica
    return (tf.data.Dataset.range(count)
            .map(sample_index)
            .map(reader, num_parallel_calls=read_threads or tf.data.AUTOTUNE, deterministic=True)
            .batch(per_replica)
            .prefetch(tf.data.AUTOTUNE))


def check_batch_size(batch_size, strategy):
    if batch_size % strategy.num_replicas_in_sync:
        raise errors.DataError(f"--batch-size {batch_size} cannot be split evenly across "
                               f"{strategy.num_replicas_in_sync} replicas; use a multiple of it")


def distributed_samples(strategy, reader, first_step, end_step, batch_size, read_threads=None):
    """The run's steps as a distributed dataset: each input pipeline (one per worker) reads the
    slices of the replicas it feeds."""
    check_batch_size(batch_size, strategy)

    def dataset_fn(context):
        local = strategy.num_replicas_in_sync // context.num_input_pipelines
        first = context.input_pipeline_id * local
        return sample_dataset(reader, first_step, end_step, batch_size, strategy.num_replicas_in_sync,
                              range(first, first + local), read_threads)

    return strategy.distribute_datasets_from_function(dataset_fn)
