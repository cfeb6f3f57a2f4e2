"""The classes of a dataset: names, palette, the groups the steps' rules use, a default order.

A data root's dataset.json may hold a "classes" table; without one the dataset is Cityscapes'
19 train classes, as the original hard-coded them. The table (data_prep/datasets/*.json are
examples, cityscapes.json equals the built-in default):

  {"classes": [{"name": "road", "colour": [128, 64, 128], "train_id": 0}, ...],
   "groups": {"thin": [...], "planar": [...], "standing": [...], "ground": [...],
              "objects": [...], "vehicles": [...], "context_fill": [...],
              "vegetation_band": [...]},
   "order": ["sky", ...]}

Classes are numbered 1..K in the order listed (the original's 1-based class ids; index maps hold
0..K-1 and 255 for void). `colour` is the class's colour in colour label PNGs (black is void);
`train_id` its value in class-index label PNGs (prepare_dataset.py). Groups name classes:
  thin             merged into the segments they cut (Cityscapes: pole, traffic light, sign)
  planar           the ordering rule puts `standing` classes touching them in front
  standing         things standing on planar classes
  ground           cleared below objects in the canvas (outer elision) and near vehicles' sources
  objects          get outer elision around them in the canvas
  vehicles         cast shadows: ground pixels near them in a source image are cleared
  context_fill     restored where the canvas label went void
  vegetation_band  a band around them is cleared in the canvas
`order` is the back-to-front class order used before train_generate_order.py derives one.
"""

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np

import data_root
import file_io
import folders
from errors import DataError

DATASETS_FOLDER = Path(__file__).resolve().parent / "datasets"
GROUPS = ("thin", "planar", "standing", "ground", "objects", "vehicles", "context_fill", "vegetation_band")
MAX_CLASSES = 254  # index maps are uint8 with 255 for void
VOID_INDEX = 255
UNKNOWN_COLOUR = 254  # in colour_index_table only: never a class index, as MAX_CLASSES leaves it free
VOID_COLOUR = (0, 0, 0)


class ClassTableError(ValueError):
    """A class table that cannot be used; the message is one line without the file's name."""


@dataclasses.dataclass(frozen=True, eq=False)
class ClassTable:
    names: tuple            # class k (1-based) is names[k - 1]
    palette: np.ndarray     # K x 3 uint8
    train_ids: tuple
    groups: dict            # group -> tuple of 1-based class ids
    order: tuple            # back to front, 1-based

    @property
    def count(self):
        return len(self.names)

    def ids(self, group):
        return self.groups[group]

    def description(self):
        """The table as dataset.json stores it."""
        return {"classes": [{"name": name, "colour": [int(c) for c in colour], "train_id": int(train_id)}
                            for name, colour, train_id in zip(self.names, self.palette, self.train_ids)],
                "groups": {group: [self.names[k - 1] for k in ids] for group, ids in self.groups.items()},
                "order": [self.names[k - 1] for k in self.order]}

    @functools.cached_property
    def colour_index_table(self):
        """The class index of every 24-bit colour key (colour_keys), for label_to_index: 0..K-1 for
        the palette, 255 (void) for black, UNKNOWN_COLOUR for any other colour. 16 MB, made on first
        use; one lookup per pixel is several times faster than searching the palette."""
        table = np.full(1 << 24, UNKNOWN_COLOUR, np.uint8)
        table[0] = VOID_INDEX
        table[colour_keys(self.palette)] = np.arange(self.count, dtype=np.uint8)
        return table


def colour_keys(rgb):
    """One integer per RGB colour (..., 3) -> (...)."""
    rgb = np.asarray(rgb).astype(np.int32)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def _whole_number(value):
    return isinstance(value, int) and not isinstance(value, bool)


def from_description(description):
    """A ClassTable from its JSON form; ClassTableError naming the first problem."""
    if not isinstance(description, dict) or not isinstance(description.get("classes"), list) \
            or not description["classes"]:
        raise ClassTableError('"classes" must be a non-empty list of {"name", "colour", "train_id"}')
    entries = description["classes"]
    if len(entries) > MAX_CLASSES:
        raise ClassTableError(f"{len(entries)} classes; at most {MAX_CLASSES} fit an index map")
    names, colours, train_ids = [], [], []
    for position, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ClassTableError(f"class {position}: needs a name")
        name = entry["name"]
        colour = entry.get("colour")
        if colour is None:
            raise ClassTableError(f"class {name!r}: no colour")
        if not (isinstance(colour, list) and len(colour) == 3 and all(_whole_number(c) and 0 <= c <= 255 for c in colour)):
            raise ClassTableError(f"class {name!r}: colour {colour!r} is not three whole numbers 0..255")
        if tuple(colour) == VOID_COLOUR:
            raise ClassTableError(f"class {name!r}: colour (0, 0, 0) is void")
        train_id = entry.get("train_id", position - 1)
        if not _whole_number(train_id) or not 0 <= train_id <= 255:
            raise ClassTableError(f"class {name!r}: train_id {train_id!r} is not a whole number 0..255")
        names.append(name)
        colours.append(tuple(colour))
        train_ids.append(train_id)
    for values, what in ((names, "name"), (colours, "colour"), (train_ids, "train_id")):
        seen = {}
        for name, value in zip(names, values):
            if value in seen:
                raise ClassTableError(f"classes {seen[value]!r} and {name!r} have the same {what} {value!r}")
            seen[value] = name
    ids = {name: k for k, name in enumerate(names, start=1)}

    def class_ids(names_given, where):
        if not isinstance(names_given, list) or not all(isinstance(name, str) for name in names_given):
            raise ClassTableError(f"{where} must be a list of class names")
        unknown = [name for name in names_given if name not in ids]
        if unknown:
            raise ClassTableError(f"{where} names unknown class {unknown[0]!r}")
        return tuple(ids[name] for name in names_given)

    given_groups = description.get("groups", {})
    if not isinstance(given_groups, dict):
        raise ClassTableError('"groups" must map group names to lists of class names')
    extra = sorted(set(given_groups) - set(GROUPS))
    if extra:
        raise ClassTableError(f'unknown group {extra[0]!r} (groups: {", ".join(GROUPS)})')
    groups = {group: class_ids(given_groups.get(group, []), f"group {group!r}") for group in GROUPS}
    order = class_ids(description.get("order", names), '"order"')
    if sorted(order) != list(range(1, len(names) + 1)):
        raise ClassTableError('"order" must list every class once (back to front)')
    return ClassTable(tuple(names), np.array(colours, np.uint8).reshape(-1, 3), tuple(train_ids), groups, order)


def read(path):
    """The class table of a JSON file (a table, or a dataset.json holding one under "classes")."""
    path = Path(path)
    try:
        content = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ClassTableError(f"cannot read a class table ({error})") from None
    if isinstance(content, dict) and isinstance(content.get("classes"), dict):
        content = content["classes"]
    return from_description(content)


CITYSCAPES = read(DATASETS_FOLDER / "cityscapes.json")


# A data root's classes and their order

def load_classes(root):
    """The class table of a data root: dataset.json's "classes", else Cityscapes'."""
    path = data_root.dataset_json_path(root)
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
        return from_description(config["classes"])
    except ClassTableError as error:
        raise DataError(f"{path}: classes: {error}") from None


def class_order(root, classes):
    """Back-to-front class order: the dataset's traindata/order.mat when present, else the class
    table's default order."""
    path = Path(root) / folders.CLASS_ORDER
    if not path.exists():
        return classes.order
    order = tuple(int(c) for c in file_io.load_mat(path, ["order"])["order"].ravel())
    if sorted(order) != list(range(1, classes.count + 1)):
        raise DataError(f"{path}: order is not a permutation of the classes 1..{classes.count}")
    return order


def class_order_from_frequency(behind_counts, fallback_order):
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
