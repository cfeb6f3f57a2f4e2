"""Files as the steps write and read them: atomic writes (a temporary file, then a rename, so an
interrupted run leaves only whole files), MATLAB v5 .mat files (through mat_v5.py, optionally
written on a thread behind the step), and image readers that fail with one line naming the file."""

import contextlib
import errno
import fcntl
import os
import shutil
import socket
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image

import mat_v5
from errors import DataError



TEMPORARY_MARK = ".tmp-"   # in the name of a file being written: .NAME.tmp-HOST-PID
HOST = socket.gethostname()


def storage_error(folder, error, doing="writing"):
    """A DataError of one line for an OSError that only the storage can cause (a full disk, a
    read-only file system, no permission), else None."""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return DataError(f"{folder}: the disk is full ({error.strerror}) while {doing}; free some space and run "
                         "the same command again")
    if error.errno == errno.EROFS:
        return DataError(f"{folder}: read-only file system; give --root a folder that can be written")
    if error.errno == errno.EACCES:
        return DataError(f"{folder}: permission denied while {doing}")
    return None


def temporary_path(path):
    """Where this process writes `path` before renaming it into place: .NAME.tmp-HOST-PID."""
    path = Path(path)
    return path.with_name(f".{path.name}{TEMPORARY_MARK}{HOST}-{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success rename it over `path`, else delete it. A
    full disk or a read-only folder becomes one DataError line naming the folder."""
    path = Path(path)
    temporary = temporary_path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        yield temporary
        os.replace(temporary, path)
    except OSError as error:
        raise (storage_error(path.parent, error, f"writing {path.name}") or error) from None
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()


def remove_stale_temporaries(folder):
    """Delete the temporary files (and folders) that killed processes of this machine left in `folder` (those of a
    PID that no longer runs): only whole files are ever renamed into place, these were never finished.
    Another machine's (shards on a shared file system) are left to it."""
    for path in Path(folder).glob(f".*{TEMPORARY_MARK}{HOST}-*"):
        pid = path.name.rpartition("-")[2]
        if pid.isdigit() and not _process_runs(int(pid)):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    path.unlink()


def _process_runs(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:   # another user's process
        pass
    with contextlib.suppress(OSError, IndexError):   # a killed process not yet reaped is a zombie
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    return True


_held_locks = {}   # lock path -> [file descriptor, how many holders in this process]


@contextlib.contextmanager
def folder_lock(folder, name="run", what="a run"):
    """Hold folder/.lock-NAME for as long as the block runs, so that two runs never write the same
    files: the second one stops at once with one line naming the folder and the first run's pid.
    Re-entrant within a process; the lock is an flock, so a killed run leaves no stale lock."""
    folder = Path(folder)
    path = folder / f".lock-{name}"
    held = _held_locks.get(path)
    if held:
        held[1] += 1
        try:
            yield
        finally:
            held[1] -= 1
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        descriptor = _acquire(path)
    except OSError as error:
        raise (storage_error(folder, error, "taking its lock") or error) from None
    if descriptor is None:
        raise DataError(f"{folder}: {what} is already working here ({lock_holder(path) or 'another process'}); wait for it "
                        "to end, or give this one another --root or --shard")
    _held_locks[path] = [descriptor, 1]
    try:
        yield
    finally:
        del _held_locks[path]
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(descriptor)


def lock_holder(path):
    """What a held lock file says of its holder ("pid N", written once its flock is taken), or ""."""
    try:
        return Path(path).read_text().strip()
    except OSError:
        return ""


def release_inherited_locks():
    """In a forked worker process: close the lock files inherited from the parent, so that a worker
    outliving a killed parent does not keep its folders locked."""
    for descriptor, _ in _held_locks.values():
        os.close(descriptor)
    _held_locks.clear()


def _acquire(path):
    """The descriptor of the flock'ed lock file, or None when another process holds it. A lock file
    removed by its holder between our open and our flock is opened again (its inode is no longer
    the path's). Unbuffered, so that closing it never writes (a full disk cannot fail it)."""
    while True:
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            return None
        try:
            if os.fstat(descriptor).st_ino == os.stat(path).st_ino:
                with contextlib.suppress(OSError):   # who holds it, for the message; a full disk may refuse
                    os.ftruncate(descriptor, 0)
                    os.write(descriptor, f"pid {os.getpid()}".encode())
                return descriptor
        except FileNotFoundError:
            pass
        os.close(descriptor)


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
    except NotImplementedError:   # what scipy says of an HDF5-based file
        raise DataError(f"{path}: a MATLAB v7.3 (HDF5) file, which is not read here; save it with save(..., '-v7')") from None
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
            if mode:
                _check_eight_bit_and_opaque(path, image)
            return np.asarray(image.convert(mode) if mode else image)
    except DataError:
        raise
    except Exception as error:
        raise DataError(f"{path}: cannot read image ({type(error).__name__}: {error})") from None


def _check_eight_bit_and_opaque(path, image):
    """Converting would silently scale 16-bit values or drop transparency, which changes labels."""
    if image.mode.startswith("I") or image.mode == "F":
        raise DataError(f"{path}: a {image.mode} ({'16' if ';16' in image.mode else '32'}-bit) image, expected 8 bits "
                        "per channel")
    if "A" in image.mode or "transparency" in image.info:
        alpha = np.asarray(image.convert("RGBA"))[..., 3]
        if (alpha < 255).any():
            raise DataError(f"{path}: {int((alpha < 255).sum())} transparent pixels (an alpha channel); save it "
                            "without transparency")


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

