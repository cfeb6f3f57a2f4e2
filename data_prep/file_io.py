"""Files as the steps write and read them: atomic writes (a temporary file, then a rename, so an
interrupted run leaves only whole files), MATLAB v5 .mat files (through mat_v5.py, optionally
written on a thread behind the step), and image readers that fail with one line naming the file."""

import contextlib
import os
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

import mat_v5
from errors import DataError



@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield temporary
        os.replace(temporary, path)
    finally:
        if temporary.exists():
            temporary.unlink()


def write_bytes_atomic(path, data):
    with atomic_path(path) as temporary:
        temporary.write_bytes(data)


# zlib level of every .mat variable: 1 writes the pipeline's stacks 3 to 6 times faster than
# scipy's default (6) for files 5 to 30% larger (benchmarks/bench_data_prep.py)
MAT_COMPRESSION_LEVEL = 1
_mat_write_threads = 1  # raised by per_image_runner to the cores its worker processes leave idle


def set_mat_write_threads(workers):
    """Deflate .mat files on the cores `workers` processes leave idle (at least one thread)."""
    global _mat_write_threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    _mat_write_threads = max(1, cores // max(1, workers))


def stack_for_mat(arrays, item_shape, dtype, first=False):
    """Arrays of item_shape stacked along a new last axis (or first, with first=True), built
    column-major as a .mat file stores it, so that save_mat writes it without another copy."""
    arrays = list(arrays)
    count, item_shape = len(arrays), tuple(item_shape)
    stack = np.empty((count,) + item_shape if first else item_shape + (count,), dtype, order="F")
    for slot, array in enumerate(arrays):
        stack[(slot, ...) if first else (..., slot)] = array
    return stack


def _write_mat(path, variables):
    with atomic_path(path) as temporary:
        with open(temporary, "wb") as handle:
            mat_v5.write(handle, variables, level=MAT_COMPRESSION_LEVEL, threads=_mat_write_threads)


MAX_BACKGROUND_WRITES = 2  # files held in memory while they are written behind the step
_background_writes = []    # futures of save_mat(..., background=True) not yet waited for
_waiting_for_writes = False  # True inside call_with_background_writes, which waits for them


def save_mat(path, variables, background=False):
    """Write a MATLAB v5 .mat file atomically (MATLAB and Octave read it with load()); arrays
    built in Fortran order are written without a copy (mat_v5.py).

    background=True writes it on a thread while the step computes its next file (the caller must
    not change the arrays afterwards) inside call_with_background_writes (per_image_runner calls
    each image so), which waits for them and raises a failed write. Elsewhere it writes at once.
    """
    if not (background and _waiting_for_writes):
        _write_mat(path, variables)
        return
    while len(_background_writes) >= MAX_BACKGROUND_WRITES:
        _background_writes.pop(0).result()
    # its own pool: a write waits on the deflating pool, so it must not take one of its threads
    _background_writes.append(mat_v5.thread_pool("save_mat", 1).submit(_write_mat, path, variables))


def wait_for_background_writes():
    """Wait until every save_mat(..., background=True) of this process has ended; the first
    failure is raised once all have."""
    failure = None
    while _background_writes:
        try:
            _background_writes.pop(0).result()
        except BaseException as error:
            failure = failure or error
    if failure:
        raise failure



def call_with_background_writes(function, *args):
    """function(*args), during which save_mat(..., background=True) writes behind it; returns
    once those files are written (whole, even when function fails: its error is the one raised)."""
    global _waiting_for_writes
    _waiting_for_writes = True
    try:
        function(*args)
    except BaseException:
        with contextlib.suppress(Exception):
            wait_for_background_writes()
        raise
    finally:
        _waiting_for_writes = False
    wait_for_background_writes()

def load_mat(path, names):
    """Read the named variables of a .mat file; one-line DataError when missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        content = scipy.io.loadmat(path, variable_names=list(names))
    except Exception as error:  # scipy raises many types for damaged files
        raise DataError(f"{path}: cannot read .mat file ({type(error).__name__}: {error})") from None
    missing = [name for name in names if name not in content]
    if missing:
        raise DataError(f"{path}: variable {', '.join(missing)} not found")
    return {name: content[name] for name in names}


def _open_image(path, mode=None):
    """Decode an image file (converted to a PIL mode when given); one-line DataError on failure."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        with Image.open(path) as image:
            image.load()
            return np.asarray(image.convert(mode) if mode else image)
    except Exception as error:
        raise DataError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None


def read_image(path, channels=3, shape=None):
    """Read a PNG/JPG as uint8 HxWx3 (RGB) or HxW (channels=1); check its size when given."""
    array = _open_image(path, "RGB" if channels == 3 else "L")
    _check_shape(path, array, shape)
    return array


def read_png16(path, shape=None):
    """Read a 16-bit single-channel PNG (a Cityscapes disparity map) as uint16 HxW."""
    array = _open_image(path)
    if array.ndim != 2:
        raise DataError(f"{path}: expected a single-channel 16-bit PNG, got shape {array.shape}")
    _check_shape(path, array, shape)
    return array.astype(np.uint16)



def _check_shape(path, array, shape):
    if shape is not None and tuple(array.shape[:2]) != tuple(shape):
        raise DataError(f"{path}: size is {array.shape[0]}x{array.shape[1]}, "
                        f"expected {shape[0]}x{shape[1]}")


def to_uint8(values, round_values=False):
    """Pixel values in 0..255 as uint8 after clipping: truncated, as the original's np.uint8 wrote
    its networks' results, or rounded to the nearest level (round_values)."""
    values = np.clip(values, 0, 255)
    return (np.round(values) if round_values else values).astype(np.uint8)


def write_image(path, array, quality=95):
    """Write uint8 HxWx3 RGB, HxW grey, or uint16 HxW as PNG (or JPG by extension), atomically."""
    path = Path(path)
    array = np.asarray(array)
    image = Image.fromarray(array)
    image_format = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    options = {"quality": quality} if image_format == "JPEG" else {"compress_level": 3}
    with atomic_path(path) as temporary:
        image.save(temporary, format=image_format, **options)

