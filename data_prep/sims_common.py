"""Shared helpers of the SIMS data-preparation steps.

Everything the numbered steps have in common lives here once: the dataset's class table
(Cityscapes by default; class_table.py), colour label <-> index maps, the networks' (K + 1)-channel
one-hot, MATLAB-compatible image operations (nearest resize, bwlabel numbering, Sobel edge, square
dilation), atomic file I/O with one-line errors (.mat files through mat_v5.py), the data root and
its sizes, and the per-image runner (progress bar, resume, worker processes, sharding, per-image
seeds, files written behind the step).

Importing this module does not import TensorFlow, so the data-preparation steps stay light.
"""

import argparse
import concurrent.futures
import contextlib
import dataclasses
import functools
import json
import logging
import multiprocessing
import os
import sys
from pathlib import Path

import numpy as np
import scipy.io
import scipy.ndimage
from PIL import Image
from tqdm import tqdm

import class_table
import mat_v5

LOG = logging.getLogger("sims")

REPO_ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------------------------
# Classes, palette, class order
# ---------------------------------------------------------------------------------------------

# The dataset's classes come from its class table (class_table.py): dataset.json's "classes", or
# Cityscapes' 19 train classes when it has none. These names are the Cityscapes table's; class k
# (1-based, as MATLAB) is index k - 1 in index maps.
CITYSCAPES = class_table.CITYSCAPES
CLASS_NAMES = CITYSCAPES.names
NUM_CLASSES = CITYSCAPES.count
VOID_INDEX = class_table.VOID_INDEX
PALETTE = CITYSCAPES.palette     # the original's mapping.mat, the Cityscapes trainId colours
VOID_COLOUR = class_table.VOID_COLOUR
CITYSCAPES_CLASS_ORDER = CITYSCAPES.order  # the original's order.mat: sky first, traffic light last
THIN_CLASSES = CITYSCAPES.ids("thin")      # pole, traffic light, traffic sign


def load_classes(root):
    """The class table of a data root: dataset.json's "classes", else Cityscapes'."""
    path = dataset_json_path(root)
    if not path.exists():
        return CITYSCAPES
    return _classes_of(path, path.stat().st_mtime_ns)


@functools.lru_cache(maxsize=8)
def _classes_of(path, modified):
    """The class table of a dataset.json (read again when the file changes)."""
    try:
        config = json.loads(path.read_text())
    except ValueError as error:
        raise DataError(f"{path}: not a valid dataset description ({error})") from None
    if not isinstance(config, dict) or "classes" not in config:
        return CITYSCAPES
    try:
        return class_table.from_description(config["classes"])
    except class_table.ClassTableError as error:
        raise DataError(f"{path}: classes: {error}") from None


def class_order(root, classes=CITYSCAPES):
    """Back-to-front class order: the dataset's traindata/order.mat when present, else the class
    table's default order."""
    path = Path(root) / "traindata" / "order.mat"
    if not path.exists():
        return classes.order
    order = tuple(int(c) for c in load_mat(path, ["order"])["order"].ravel())
    if sorted(order) != list(range(1, classes.count + 1)):
        raise DataError(f"{path}: order is not a permutation of the classes 1..{classes.count}")
    return order


def class_order_from_frequency(behind_counts, fallback_order=CITYSCAPES_CLASS_ORDER):
    """Back-to-front class order (1-based) from F, F[a, b] = times class a was behind class b.

    Classes are sorted by rowsum / (rowsum + colsum), most often behind first. A class that no
    pair mentions (sky has no valid disparity in the demo data) scores by its rank in
    fallback_order instead, 1 for the first class down to 0 for the last, so it keeps its usual
    place rather than landing in front of everything.
    """
    counts = np.asarray(behind_counts, dtype=np.float64)
    behind = counts.sum(axis=1)
    in_front = counts.sum(axis=0)
    total = behind + in_front
    rank = np.empty(len(counts))
    rank[np.asarray(fallback_order) - 1] = np.arange(len(fallback_order))
    prior = 1.0 - rank / (len(fallback_order) - 1)
    score = np.divide(behind, total, out=prior, where=total > 0)
    # Ties go by the fallback order, so the result is deterministic.
    return tuple(int(c) + 1 for c in np.lexsort((rank, -score)))


# ---------------------------------------------------------------------------------------------
# Errors and command-line plumbing
# ---------------------------------------------------------------------------------------------

class DataError(Exception):
    """Bad or missing input; the message is one line that names the file and what is wrong."""


class _TqdmHandler(logging.Handler):
    """Log through tqdm.write so log lines do not tear progress bars."""

    def emit(self, record):
        try:
            tqdm.write(self.format(record), file=sys.stderr)
        except Exception:  # logging must never raise
            self.handleError(record)


def setup_logging(level=logging.INFO):
    handler = _TqdmHandler()
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def run_cli(main):
    """Run a script's main(): a DataError becomes one ERROR line and exit status 1."""
    setup_logging()
    try:
        main()
    except DataError as error:
        LOG.error("%s", error)
        sys.exit(1)
    except KeyboardInterrupt:
        LOG.error("interrupted; finished outputs are kept, run again to continue")
        sys.exit(130)


def add_root_argument(parser):
    parser.add_argument("--root", type=Path, default=REPO_ROOT,
                        help="folder holding traindata/ testdata/ trainedmodels/ result/ "
                             "(default: the repository root)")


def add_runner_arguments(parser):
    parser.add_argument("--workers", type=int, default=1,
                        help="worker processes (the original's parfor); default 1")
    parser.add_argument("--shard", type=parse_shard, default=(1, 1), metavar="K/N",
                        help="process only the K-th of N interleaved slices of the images (K = 1..N), "
                             "e.g. --shard $SLURM_ARRAY_TASK_ID/8 with --array=1-8")


def positive_int(text):
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected at least 1, got {text!r}")
    return value


def _float(text):
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def non_negative_float(text):
    """An argparse type: a number of at least 0."""
    value = _float(text)
    if not value >= 0:   # NaN fails too
        raise argparse.ArgumentTypeError(f"expected a number >= 0, got {text!r}")
    return value


def positive_float(text):
    """An argparse type: a number above 0."""
    value = _float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def parse_shard(text):
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"shard must look like K/N, got {text!r}") from None
    if not 1 <= index <= count:
        raise argparse.ArgumentTypeError(f"shard K/N needs 1 <= K <= N, got {text!r}")
    return index, count


# ---------------------------------------------------------------------------------------------
# Data root and sizes
# ---------------------------------------------------------------------------------------------

DEFAULT_BASE_HEIGHT = 256
ORIGINAL_AREA_THRESHOLD = 1000  # pixels at 256x512


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Every image size of a data root, derived from its base height.

    Level 1 is the original's "256" (base_height x 2*base_height), level 2 its "512", level 4
    its "1024". Folder names keep the original's names whatever the scale.
    """

    base_height: int = DEFAULT_BASE_HEIGHT

    def __post_init__(self):
        if not isinstance(self.base_height, int) or self.base_height < 32 or self.base_height % 32:
            raise DataError(f"base_height must be a positive multiple of 32, got {self.base_height!r}")

    def shape(self, level=1):
        """(height, width) at a level (1, 2 or 4)."""
        return self.base_height * level, 2 * self.base_height * level

    @property
    def area_threshold(self):
        """Minimum area (exclusive) of a usable segment at level 1: 1000 px at 256x512, scaled."""
        return ORIGINAL_AREA_THRESHOLD * (self.base_height / 256) ** 2


def dataset_json_path(root):
    return Path(root) / "dataset.json"


def load_sizes(root):
    """Sizes of a data root: base_height from ROOT/dataset.json, 256 when the file is absent."""
    path = dataset_json_path(root)
    if not path.exists():
        return Sizes()
    try:
        config = json.loads(path.read_text())
        base_height = config.get("base_height", DEFAULT_BASE_HEIGHT)
    except (ValueError, AttributeError) as error:
        raise DataError(f"{path}: not a valid dataset description ({error})") from None
    try:
        return Sizes(base_height)
    except DataError as error:
        raise DataError(f"{path}: {error}") from None


def write_dataset_json(root, sizes, **details):
    """Record the root's base height (and where its data came from); refuses to mix two datasets."""
    path = dataset_json_path(root)
    content = {"base_height": sizes.base_height, **details}
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except ValueError as error:
            raise DataError(f"{path}: not a valid dataset description ({error})") from None
        clashes = [f"{key}={existing[key]!r} (asked {value!r})" for key, value in content.items()
                   if key in existing and existing[key] != value]
        if clashes:
            raise DataError(f"{path}: root already holds other data: {', '.join(clashes)}; "
                            "use another --root")
    write_bytes_atomic(path, (json.dumps(content, indent=2) + "\n").encode())


# The images, labels and disparity a dataset provides: folder -> (level, kind). Shared by the
# demo generator and the Cityscapes import, and read by the steps.
TRAIN_IMAGE_FOLDERS = {
    "RGB256Full": (1, "rgb"), "RGB512Full": (2, "rgb"), "RGB1024Full": (4, "rgb"),
    "Label256Full": (1, "label"), "Label512Full": (2, "label"), "Label1024Full": (4, "label"),
    "label_refine": (1, "label"), "label_refine_512": (2, "label"),
    "disparity": (1, "disparity"),
}
TEST_IMAGE_FOLDERS = {  # the RGB folders hold ground truth, for evaluation only
    "label_refine": (1, "label"), "label_refine_512": (2, "label"),
    "RGB256Full": (1, "rgb"), "RGB512Full": (2, "rgb"),
}
FIRST_TEST_ID = 100001

# The original's resolution names, as the steps' --level options and folder names spell them.
LEVELS = {"256": 1, "512": 2, "1024": 4}


def add_level_argument(parser, names=tuple(LEVELS)):
    parser.add_argument("--level", choices=names, default="512",
                        help=f"image size: the original's {', '.join(names)} (default 512)")


def image_folder_at(level):
    """The RGB folder of a level, in traindata/ (training images) or testdata/ (ground truth)."""
    return {1: "RGB256Full", 2: "RGB512Full", 4: "RGB1024Full"}[level]


def clean_label_folder_at(level):
    """The clean (hole-free) training labels of a level."""
    return {1: "Label256Full", 2: "Label512Full", 4: "Label1024Full"}[level]


def image_name(image_id):
    return f"{image_id:08d}"


def list_image_ids(folder, suffix=".png"):
    """Sorted ids of the %08d files in a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    ids = []
    for path in folder.iterdir():
        if path.name.endswith(suffix) and path.name[: -len(suffix)].isdigit():
            ids.append(int(path.name[: -len(suffix)]))
    return sorted(ids)


# ---------------------------------------------------------------------------------------------
# Labels
# ---------------------------------------------------------------------------------------------

def label_to_index(label, classes=CITYSCAPES):
    """Colour label (HxWx3 uint8) -> (class index map uint8 0..K-1, unknown-colour pixel count).

    Void (black) and unknown colours become 255, as the original's func_mappinglabeltoindex.
    """
    label = np.asarray(label)
    if label.ndim != 3 or label.shape[2] != 3:
        raise ValueError(f"a colour label must be HxWx3, got shape {label.shape}")
    index = classes.colour_index_table[class_table.colour_keys(label)]
    unknown = int(np.count_nonzero(index == class_table.UNKNOWN_COLOUR))
    if unknown:
        index[index == class_table.UNKNOWN_COLOUR] = VOID_INDEX
    return index, unknown


def index_to_label(index, classes=CITYSCAPES):
    """Class index map (0..K-1, anything else void) -> colour label HxWx3 uint8."""
    index = np.asarray(index)
    colours = np.zeros((256, 3), dtype=np.uint8)
    colours[:classes.count] = classes.palette
    return colours[index.astype(np.uint8)]


def one_hot_labels(index, classes=CITYSCAPES):
    """HxW class index map -> HxWx(K+1) float32: K class channels and void = 1 - their sum."""
    index = np.asarray(index)
    channels = (index[..., None] == np.arange(classes.count)).astype(np.float32)
    void = 1.0 - channels.sum(axis=-1, keepdims=True)
    return np.concatenate([channels, void], axis=-1)


# ---------------------------------------------------------------------------------------------
# MATLAB-compatible image operations
# ---------------------------------------------------------------------------------------------

def _matlab_nearest_indices(in_size, out_size):
    """Source index (0-based) of each output pixel, with MATLAB's own double arithmetic.

    imresize maps output pixel x (1-based) to u = x/scale + 0.5*(1 - 1/scale), scale = out/in,
    and the nearest kernel takes the pixel c with -0.5 <= u - c < 0.5. Exact ties (u - c = -0.5)
    go to the higher pixel; OpenCV's fixed-point INTER_NEAREST_EXACT can differ there.
    """
    scale = out_size / in_size
    u = np.arange(1, out_size + 1, dtype=np.float64) / scale + 0.5 * (1 - 1 / scale)
    candidates = np.floor(u - 0.5)[:, None] + np.arange(3)[None, :]
    offset = u[:, None] - candidates
    first_inside = np.argmax((offset >= -0.5) & (offset < 0.5), axis=1)
    chosen = candidates[np.arange(out_size), first_inside].astype(np.int64) - 1
    return np.clip(chosen, 0, in_size - 1)


def resize_nearest(array, shape):
    """imresize(array, shape, 'nearest') of MATLAB: samples at pixel centres.

    Works on any dtype and any number of trailing channels (resizes the first two axes).
    """
    array = np.asarray(array)
    rows = _matlab_nearest_indices(array.shape[0], shape[0])
    cols = _matlab_nearest_indices(array.shape[1], shape[1])
    return array[rows[:, None], cols[None, :]]


_EIGHT_CONNECTED = np.ones((3, 3), dtype=bool)


def connected_components(mask):
    """bwlabel(mask) of MATLAB: 8-connected components numbered in column-major scan order.

    Returns (labels int32 HxW with 0 = background, number of components). scipy numbers
    components in row-major order, so labelling the transpose gives MATLAB's numbering.
    """
    labels, count = scipy.ndimage.label(np.asarray(mask, dtype=bool).T, structure=_EIGHT_CONNECTED)
    return np.ascontiguousarray(labels.T), int(count)


def sobel_edge(mask):
    """edge(mask, 'Sobel', 0) of MATLAB: one-pixel Sobel boundary of a binary mask.

    Gradients by the Sobel kernel (scaled by 1/8, replicated border); a pixel is an edge when
    its squared magnitude is above 0 and it is a local maximum across the dominant gradient
    direction, not lower than its left/upper neighbour and strictly higher than its right/lower
    one (MATLAB's thinning rule; out-of-image neighbours never block).
    """
    image = np.asarray(mask, dtype=np.float64)
    padded = np.pad(image, 1, mode="edge")
    # Correlation with [1 2 1; 0 0 0; -1 -2 -1]/8 (rows) and its transpose (columns).
    smooth_cols = padded[:, :-2] + 2 * padded[:, 1:-1] + padded[:, 2:]
    smooth_rows = padded[:-2, :] + 2 * padded[1:-1, :] + padded[2:, :]
    grad_y = (smooth_cols[:-2, :] - smooth_cols[2:, :]) / 8
    grad_x = (smooth_rows[:, :-2] - smooth_rows[:, 2:]) / 8
    magnitude = grad_x ** 2 + grad_y ** 2
    grad_x, grad_y = np.abs(grad_x), np.abs(grad_y)

    padded_mag = np.pad(magnitude, 1, mode="constant", constant_values=-np.inf)
    left, right = padded_mag[1:-1, :-2], padded_mag[1:-1, 2:]
    up, down = padded_mag[:-2, 1:-1], padded_mag[2:, 1:-1]
    tolerance = 100 * np.finfo(np.float64).eps
    horizontal = (grad_x >= grad_y - tolerance) & (left <= magnitude) & (magnitude > right)
    vertical = (grad_y >= grad_x - tolerance) & (up <= magnitude) & (magnitude > down)
    return (magnitude > 0) & (horizontal | vertical)


def dilate_square(mask, width):
    """imdilate(mask, strel('square', width)) of MATLAB, for binary masks.

    For an even width MATLAB's origin is element floor((width + 1) / 2), which is exactly the
    window scipy's maximum_filter uses, so no origin shift is needed.
    """
    mask = np.asarray(mask, dtype=bool)
    if width <= 1:
        return mask.copy()
    return scipy.ndimage.maximum_filter(mask, size=int(width), mode="constant", cval=False)


# ---------------------------------------------------------------------------------------------
# Files: atomic writes, one-line errors
# ---------------------------------------------------------------------------------------------

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
_mat_write_threads = 1  # raised by run_per_image to the cores its worker processes leave idle


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
_waiting_for_writes = False  # True inside run_per_image, which waits for them per image


def save_mat(path, variables, background=False):
    """Write a MATLAB v5 .mat file atomically (MATLAB and Octave read it with load()); arrays
    built in Fortran order are written without a copy (mat_v5.py).

    background=True writes it on a thread while the step computes its next file (the caller must
    not change the arrays afterwards); run_per_image waits for such writes before it counts an
    image done, and a failed write is raised there. Outside run_per_image it writes at once.
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


def read_label(path, shape=None, classes=CITYSCAPES):
    """Read a colour label PNG as a class index map; warns about colours outside the palette."""
    index, unknown = label_to_index(read_image(path, shape=shape), classes)
    if unknown:
        LOG.warning("%s: %d pixels have colours outside the palette; treated as void", path, unknown)
    return index


def _check_shape(path, array, shape):
    if shape is not None and tuple(array.shape[:2]) != tuple(shape):
        raise DataError(f"{path}: size is {array.shape[0]}x{array.shape[1]}, "
                        f"expected {shape[0]}x{shape[1]}")


def write_image(path, array, quality=95):
    """Write uint8 HxWx3 RGB, HxW grey, or uint16 HxW as PNG (or JPG by extension), atomically."""
    path = Path(path)
    array = np.asarray(array)
    image = Image.fromarray(array)
    image_format = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    options = {"quality": quality} if image_format == "JPEG" else {"compress_level": 3}
    with atomic_path(path) as temporary:
        image.save(temporary, format=image_format, **options)


# ---------------------------------------------------------------------------------------------
# Per-image runner
# ---------------------------------------------------------------------------------------------

def image_rng(seed, image_id, *stream):
    """Random generator of one image: depends only on the seed and the image, never on the order
    or process in which images run, so workers and shards give identical results."""
    return np.random.default_rng([seed, image_id, *stream])


def shard_ids(image_ids, shard):
    """The K-th of N interleaved slices (K 1-based) of the sorted ids."""
    index, count = shard
    return sorted(image_ids)[index - 1::count]


MADE_FROM_RECORD = ".made_from.json"  # in an output folder: what its outputs were made from


def made_from(folder):
    """The record of what the outputs in a folder were made from, or None."""
    try:
        return json.loads((Path(folder) / MADE_FROM_RECORD).read_text())
    except (OSError, ValueError):
        return None


def keep_outputs_made_from(sources, folder, suffix, also=()):
    """A step skips the outputs that are already there, so they must come from the same sources
    (a checkpoint, other steps' network results, options): when the record of `folder` is not
    `sources`, its *suffix files, and those of the (folder, suffix) pairs in `also`, are removed
    so that the step writes them again; then `sources` is recorded."""
    folder, sources = Path(folder), json.loads(json.dumps(sources))  # as it reads back (tuples are lists)
    recorded = made_from(folder)
    if recorded == sources:
        return
    earlier = [path for where, pattern in [(folder, suffix), *also] for path in sorted(Path(where).glob(f"*{pattern}"))]
    if earlier:
        LOG.warning("%s: removing %d outputs made from other sources (%s); they are made again from %s",
                    folder, len(earlier), "no record" if recorded is None else json.dumps(recorded), json.dumps(sources))
        for path in earlier:
            path.unlink()
    write_bytes_atomic(folder / MADE_FROM_RECORD, json.dumps(sources).encode())


def _process_and_write(process_image, image_id):
    """process_image, then the files it left to be written in the background."""
    global _waiting_for_writes
    _waiting_for_writes = True
    try:
        process_image(image_id)
    except BaseException:
        with contextlib.suppress(Exception):  # let them finish as whole files; report the first error
            wait_for_background_writes()
        raise
    finally:
        _waiting_for_writes = False
    wait_for_background_writes()


def run_per_image(process_image, image_ids, outputs_of, *, workers=1, shard=(1, 1), description=""):
    """Call process_image(image_id) for every image of this shard whose outputs are not all there.

    process_image writes its outputs itself (atomically, with the helpers above), so an
    interrupted run leaves only whole files and a re-run skips them. The first DataError stops
    the run (pending images are cancelled) and is re-raised for run_cli to report in one line.
    Returns (number processed, number skipped).
    """
    selected = shard_ids(image_ids, shard)
    pending = [image_id for image_id in selected
               if not all(Path(path).exists() for path in outputs_of(image_id))]
    skipped = len(selected) - len(pending)
    if skipped:
        LOG.info("%s: %d of %d images already done, skipped", description, skipped, len(selected))
    progress = tqdm(total=len(pending), desc=description, unit="img", file=sys.stderr)
    set_mat_write_threads(workers)
    process_image = functools.partial(_process_and_write, process_image)
    try:
        if workers <= 1 or len(pending) <= 1:
            for image_id in pending:
                process_image(image_id)
                progress.update()
        else:
            context = multiprocessing.get_context("spawn" if sys.platform != "linux" else "fork")
            with concurrent.futures.ProcessPoolExecutor(workers, mp_context=context) as pool:
                futures = [pool.submit(process_image, image_id) for image_id in pending]
                try:
                    for future in concurrent.futures.as_completed(futures):
                        future.result()
                        progress.update()
                except BaseException:
                    for future in futures:
                        future.cancel()
                    raise
    finally:
        progress.close()
    return len(pending), skipped


def step_parser(doc):
    """Argument parser of a per-image step: --root, --workers, --shard."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    add_root_argument(parser)
    add_runner_arguments(parser)
    return parser


def run_step(args, description, image_folder, process_image, outputs_of, **options):
    """The main loop of a per-image step: every image of ROOT/image_folder through the runner.

    process_image(image_id, root=, sizes=, classes=, **options) writes the outputs that
    outputs_of(root, image_id) lists; classes is the root's class table.
    """
    root = args.root.resolve()
    sizes, classes = load_sizes(root), load_classes(root)
    image_ids = list_image_ids(root / image_folder)
    process = functools.partial(process_image, root=root, sizes=sizes, classes=classes, **options)
    done, skipped = run_per_image(process, image_ids, lambda image_id: outputs_of(root, image_id),
                                  workers=args.workers, shard=args.shard, description=description)
    LOG.info("%s: %d images done, %d already there", description, done, skipped)
