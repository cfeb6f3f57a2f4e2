"""Fast, exact retrieval of training segments by IoU (the search of search_segments.m).

The original compares every query with every training segment and reloads every training file
for every query. Here the memory bank is indexed once per class, on disk, and memory-mapped:
  traindata/segment_index/CC_masks.npy   N x H x ceil(W/8) uint8, bit-packed library_mask rows
  traindata/segment_index/CC_poles.npy   the same for library_mask_pole
  traindata/segment_index/CC_meta.npz    area, box (first/last row, first/last column),
                                         image (1-based in the sorted training list), image_id,
                                         segment (1-based inside its training file)
  traindata/segment_index/manifest.json  fingerprint of the memory bank it was built from
It is rebuilt whenever the memory bank changes. A query only looks at segments whose boxes meet
its own (the others have IoU 0), in descending order of the bound IoU <= min(a,b)/max(a,b), and
stops as soon as that bound falls below the k-th best IoU found, so it returns exactly what
exhaustive search returns: the k best positive IoUs, ties to the lower image, then segment.
"""

import dataclasses
import hashlib
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import scipy.io
from tqdm import tqdm

import class_table
import data_root
import errors
import file_io
import folders
import segments

LOG = logging.getLogger("sims")

INDEX_FOLDER = folders.SEGMENT_INDEX
SEGMENT_FOLDER = folders.MEMORY_BANK
TRAIN_IMAGE_FOLDER = folders.train_images("256")
CHUNK = 256  # candidates scored per vectorised step


@dataclasses.dataclass(frozen=True)
class Match:
    iou: float
    row: int          # row in the class index
    image: int        # 1-based position of the training image in the sorted list (response_index)
    image_id: int     # the training image's id (file name)
    segment: int      # 1-based slice in the image's segment file (response_segment)


def library_fingerprint(root, image_ids):
    """Digest of the memory bank: every segment file's name, size and modification time."""
    digest = hashlib.sha256()
    class_count = class_table.load_classes(root).count
    for image_id in image_ids:
        for path in segments.segment_files(Path(root) / SEGMENT_FOLDER, image_id, class_count):
            try:
                stat = path.stat()
            except FileNotFoundError:
                raise errors.DataError(f"{path}: file not found (run train_connect_component_mask.py)") from None
            digest.update(f"{path.parent.name}/{path.name} {stat.st_size} {stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def pack(mask):
    return np.packbits(np.asarray(mask, bool), axis=1)


def _segment_count(path):
    for name, shape, _ in _whosmat(path):
        if name == "library_mask":
            return shape[2] if len(shape) == 3 else (0 if 0 in shape else 1)
    raise errors.DataError(f"{path}: variable library_mask not found")


def _whosmat(path):
    try:
        return scipy.io.whosmat(path)
    except Exception as error:
        raise errors.DataError(f"{path}: cannot read .mat file ({type(error).__name__}: {error})") from None


def build_index(root, sizes, image_ids, fingerprint):
    """Write the index of the memory bank (into a temporary folder, renamed when complete)."""
    root = Path(root)
    folder = root / INDEX_FOLDER
    folder.parent.mkdir(parents=True, exist_ok=True)
    # A name of this machine and process, so shards on several machines sharing the root never write
    # into one folder, and the folders of killed builds are recognised and removed.
    file_io.remove_stale_temporaries(folder.parent)
    building = file_io.temporary_path(folder)
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir()
    height, width = sizes.shape(1)
    packed_width = (width + 7) // 8
    bank = root / SEGMENT_FOLDER
    try:
        for class_id in tqdm(range(1, class_table.load_classes(root).count + 1), desc="segment index", unit="class"):
            files = [segments.segment_file(bank, class_id, image_id) for image_id in image_ids]
            counts = [_segment_count(path) for path in files]
            total = sum(counts)
            shape = (total, height, packed_width)
            masks = np.lib.format.open_memmap(building / f"{class_id:02d}_masks.npy", "w+", np.uint8, shape)
            poles = np.lib.format.open_memmap(building / f"{class_id:02d}_poles.npy", "w+", np.uint8, shape)
            meta = {key: np.zeros(total, np.int64) for key in ("area", "image", "image_id", "segment")}
            meta["box"] = np.zeros((total, 4), np.int64)
            row = 0
            for position, (path, count) in enumerate(zip(files, counts)):
                if count == 0:
                    continue
                library_mask, library_mask_pole = segments.read_segment_masks(path, (height, width))
                if library_mask.shape[2] != count:
                    raise errors.DataError(f"{path}: changed while the index was being built")
                for segment in range(count):
                    mask = library_mask[:, :, segment] > 0
                    rows, cols = np.nonzero(mask.any(1))[0], np.nonzero(mask.any(0))[0]
                    if rows.size == 0:
                        raise errors.DataError(f"{path}: segment {segment + 1} is empty")
                    masks[row] = pack(mask)
                    poles[row] = pack(library_mask_pole[:, :, segment] > 0)
                    meta["area"][row] = mask.sum()
                    meta["box"][row] = (rows[0], rows[-1], cols[0], cols[-1])
                    meta["image"][row] = position + 1
                    meta["image_id"][row] = image_ids[position]
                    meta["segment"][row] = segment + 1
                    row += 1
            masks.flush()
            poles.flush()
            del masks, poles
            np.savez(building / f"{class_id:02d}_meta.npz", **meta)
        manifest = {"fingerprint": fingerprint, "base_height": sizes.base_height,
                    "image_ids": list(map(int, image_ids))}
        (building / "manifest.json").write_text(json.dumps(manifest))
        shutil.rmtree(folder, ignore_errors=True)
        try:
            os.rename(building, folder)
        except OSError:
            # Another shard finished the same build first; its index is as good as ours.
            if (_manifest(folder) or {}).get("fingerprint") != fingerprint:
                raise
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _manifest(folder):
    try:
        return json.loads((Path(folder) / "manifest.json").read_text())
    except (OSError, ValueError):
        return None


def prepare_index(root, sizes):
    """Make sure the index matches the memory bank (building it when needed); returns its folder."""
    root = Path(root)
    image_ids = data_root.list_image_ids(root / TRAIN_IMAGE_FOLDER)
    fingerprint = library_fingerprint(root, image_ids)
    folder = root / INDEX_FOLDER
    manifest = _manifest(folder)
    if manifest and manifest["fingerprint"] == fingerprint and manifest["base_height"] == sizes.base_height:
        LOG.info("segment index %s is up to date", folder)
    else:
        LOG.info("building the segment index of %d training images in %s", len(image_ids), folder)
        build_index(root, sizes, image_ids, fingerprint)
    return folder


class ClassIndex:
    """The training segments of one class: bit-packed masks (memory-mapped) and their metadata."""

    def __init__(self, folder, class_id, width):
        self.width = width
        self.masks = np.load(Path(folder) / f"{class_id:02d}_masks.npy", mmap_mode="r")
        self.poles = np.load(Path(folder) / f"{class_id:02d}_poles.npy", mmap_mode="r")
        with np.load(Path(folder) / f"{class_id:02d}_meta.npz") as meta:
            self.area, self.box = meta["area"], meta["box"]
            self.image, self.image_id, self.segment = meta["image"], meta["image_id"], meta["segment"]

    def __len__(self):
        return len(self.area)

    def mask(self, row):
        return np.unpackbits(self.masks[row], axis=1, count=self.width).astype(bool)

    def pole_mask(self, row):
        return np.unpackbits(self.poles[row], axis=1, count=self.width).astype(bool)

    def top_k(self, query, k):
        """The k training segments of highest positive IoU with a query mask, best first."""
        query = np.asarray(query, bool)
        area = int(query.sum())
        if area == 0 or len(self) == 0:
            return []
        rows, cols = np.nonzero(query.any(1))[0], np.nonzero(query.any(0))[0]
        top, bottom, left, right = rows[0], rows[-1], cols[0], cols[-1]
        box = self.box
        candidates = np.flatnonzero((box[:, 0] <= bottom) & (box[:, 1] >= top)
                                    & (box[:, 2] <= right) & (box[:, 3] >= left))
        if candidates.size == 0:
            return []
        their_area = self.area[candidates]
        bound = np.minimum(their_area, area) / np.maximum(their_area, area)
        by_bound = np.argsort(-bound, kind="stable")
        candidates, bound = candidates[by_bound], bound[by_bound]

        window = (slice(top, bottom + 1), slice(left // 8, right // 8 + 1))
        packed_query = pack(query)[window]
        best_rows = np.empty(0, np.int64)
        best_iou = np.empty(0, np.float64)
        for start in range(0, candidates.size, CHUNK):
            if best_rows.size == k and bound[start] < best_iou[-1]:
                break  # no remaining candidate can enter the top k
            chunk = candidates[start:start + CHUNK]
            overlap = self.masks[chunk, window[0], window[1]] & packed_query
            intersection = np.bitwise_count(overlap).sum(axis=(1, 2), dtype=np.int64)
            iou = intersection / (area + self.area[chunk] - intersection)
            positive = iou > 0
            best_rows = np.concatenate([best_rows, chunk[positive]])
            best_iou = np.concatenate([best_iou, iou[positive]])
            ranking = np.lexsort((self.segment[best_rows], self.image[best_rows], -best_iou))[:k]
            best_rows, best_iou = best_rows[ranking], best_iou[ranking]
        return [Match(float(iou), int(row), int(self.image[row]), int(self.image_id[row]), int(self.segment[row]))
                for iou, row in zip(best_iou, best_rows)]


    def best_in_images(self, query, image_order):
        """The row of highest positive IoU with the query among the segments of the given training
        images (1-based positions), ties to the image listed first, then the lower segment; None
        when none overlaps. This is the original's best-of-random-draws search."""
        rank = {image: position for position, image in reversed(list(enumerate(image_order)))}
        rows = np.flatnonzero(np.isin(self.image, list(rank)))
        query = np.asarray(query, bool)
        if rows.size == 0 or not query.any():
            return None
        intersection = np.bitwise_count(self.masks[rows] & pack(query)).sum(axis=(1, 2), dtype=np.int64)
        iou = intersection / (query.sum() + self.area[rows] - intersection)
        order = np.lexsort((self.segment[rows], [rank[image] for image in self.image[rows]], -iou))
        return int(rows[order[0]]) if iou[order[0]] > 0 else None


class SegmentIndex:
    """All classes of a prepared index; each class is opened on first use."""

    def __init__(self, folder, sizes):
        self.folder = Path(folder)
        self.width = sizes.shape(1)[1]
        self._classes = {}

    def of_class(self, class_id):
        if class_id not in self._classes:
            self._classes[class_id] = ClassIndex(self.folder, class_id, self.width)
        return self._classes[class_id]
