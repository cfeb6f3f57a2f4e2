"""A data root: its sizes (dataset.json), the original's resolution names, and its image names.

A root holds traindata/ testdata/ trainedmodels/ result/ as the original's folders do (the
repository root by default); folders.py names the folders inside it.
"""

import dataclasses
import json
from pathlib import Path

import file_io
from errors import DataError

REPO_ROOT = Path(__file__).resolve().parent.parent

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


def write_dataset_json(root, sizes, absent_means=None, **details):
    """Record the root's base height (and where its data came from); refuses to mix two datasets.
    absent_means: {key: value} that a description written before the key existed stands for."""
    path = dataset_json_path(root)
    content = {"base_height": sizes.base_height, **details}
    if path.exists():
        try:
            existing = json.loads(path.read_text())
        except ValueError as error:
            raise DataError(f"{path}: not a valid dataset description ({error})") from None
        existing = {**(absent_means or {}), **existing}
        clashes = [f"{key}={existing[key]!r} (asked {value!r})" for key, value in content.items()
                   if key in existing and existing[key] != value]
        if clashes:
            raise DataError(f"{path}: root already holds other data: {', '.join(clashes)}; "
                            "use another --root (for run_demo.sh: SIMS_DEMO_ROOT=DIR)")
    file_io.write_bytes_atomic(path, (json.dumps(content, indent=2) + "\n").encode())


FIRST_TEST_ID = 100001   # test images are numbered from here, training images from 1

# The original's resolution names, as the steps' --level options and folder names spell them.
LEVELS = {"256": 1, "512": 2, "1024": 4}


def image_name(image_id):
    return f"{image_id:08d}"


def list_image_ids(folder, suffix=".png"):
    """Sorted ids of the %08d files in a folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(f"{folder}: folder not found")
    try:
        names = [path.name for path in folder.iterdir()]
    except OSError as error:
        raise DataError(f"{folder}: cannot list the folder ({error.strerror})") from None
    return sorted(int(name[: -len(suffix)]) for name in names if name.endswith(suffix) and name[: -len(suffix)].isdigit())

