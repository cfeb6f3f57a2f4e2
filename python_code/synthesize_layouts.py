"""Your own layouts -> images, with the trained models of a data root.

  python python_code/synthesize_layouts.py --layouts DIR --root ROOT [--level 256|512] [--out DIR]

Every PNG in DIR is a colour label map in the palette of the root's class table (Cityscapes'
unless dataset.json holds another; black is void), of any size: it is resized to the root's
level-1 size with nearest neighbour. A layout with colours outside the table is reported by name
and skipped; the others go on. They become the test layouts of a work root (OUT/work: its own
testdata/ and result/, the root's traindata/ and trainedmodels/ linked, so the root's test set is
not touched), which runs the test pipeline: query segments, retrieval, transformation and
ordering (their test phases, when the root has those models; else the segments are pasted
untransformed and the class order decides), canvas and synthesis at --level with the root's
synthesis model. Writes OUT/NAME.png per layout (NAME = the layout's file stem),
OUT/contact_sheet.jpg (layout | canvas | synthesized, one row per layout) and OUT/layouts.csv
(id, name). Default OUT: ROOT/result/own_layouts/. Each run starts a fresh work root.
"""

import argparse
import csv
import io
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "data_prep"))

import class_table  # noqa: E402
import command_line  # noqa: E402
import data_root  # noqa: E402
import errors  # noqa: E402
import file_io  # noqa: E402
import folders  # noqa: E402
import labels  # noqa: E402
import matlab_image_ops  # noqa: E402
from contact_sheets import GAP, contact_sheet  # noqa: E402

LOG = logging.getLogger("sims")
REPOSITORY = Path(__file__).resolve().parent.parent
SYNTHESIS_SCRIPTS = {"256": "python_code/synthesis_256_512.py", "512": "python_code/synthesis_512_1024.py"}
LINKED = ("traindata", "trainedmodels")   # shared with the root; testdata/ and result/ are the work root's own


def place_layouts(layouts, work, sizes, classes):
    """Write the readable layouts as the work root's test layouts; returns {id: name}."""
    paths = sorted(path for path in Path(layouts).iterdir() if path.suffix.lower() == ".png")
    if not paths:
        raise errors.DataError(f"{layouts}: no layout PNGs")
    names = {}
    for path in paths:
        index, unknown = labels.label_to_index(file_io.read_image(path), classes)
        if unknown:
            LOG.error("%s: %d pixels have colours outside the class table; layout skipped", path, unknown)
            continue
        if (index == class_table.VOID_INDEX).all():
            LOG.error("%s: every pixel is void (black), there is nothing to synthesize; layout skipped", path)
            continue
        image_id = data_root.FIRST_TEST_ID + len(names)
        layout = matlab_image_ops.resize_nearest(index, sizes.shape(1))
        for folder, level in ((folders.TEST_LABELS, 1), (folders.TEST_LABELS_512, 2)):  # as the test set has them
            file_io.write_image(work / folder / f"{data_root.image_name(image_id)}.png",
                               labels.index_to_label(matlab_image_ops.resize_nearest(layout, sizes.shape(level)), classes))
        names[image_id] = path.stem
    if not names:
        raise errors.DataError(f"{layouts}: no layout uses only the class table's colours with at least one class")
    return names


def make_work_root(root, work):
    """A fresh root beside nothing of the root's test set: its dataset.json, linked training side."""
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)
    shutil.copy(data_root.dataset_json_path(root), work / "dataset.json")
    for name in LINKED:
        if (root / name).exists():
            (work / name).symlink_to((root / name).resolve(), target_is_directory=True)


def run(script, work, *arguments):
    """Run one of the pipeline's scripts on the work root, as a user would."""
    LOG.info("%s %s", script, " ".join(map(str, arguments)))
    finished = subprocess.run([sys.executable, str(REPOSITORY / script), "--root", str(work), *map(str, arguments)])
    if finished.returncode != 0:
        raise errors.DataError(f"{REPOSITORY / script}: failed on the layouts (its message is above)")


def write_outputs(work, out, names, level_name, sizes):
    shape = sizes.shape(data_root.LEVELS[level_name])
    rows = []
    for image_id, name in names.items():
        file_name = f"{data_root.image_name(image_id)}"
        synthesized = file_io.read_image(work / folders.synthesized(level_name) / f"{file_name}.png")
        file_io.write_image(out / f"{name}.png", synthesized)
        canvas = file_io.load_mat(work / folders.canvases(level_name) / f"{file_name}.mat",
                                 ["proposal"])["proposal"]
        layout = matlab_image_ops.resize_nearest(file_io.read_image(work / folders.TEST_LABELS / f"{file_name}.png"), shape)
        rows.append(contact_sheet([layout, np.round(canvas * 255).astype(np.uint8), synthesized]))
    gap = np.full((GAP, rows[0].shape[1], 3), 255, np.uint8)
    file_io.write_image(out / "contact_sheet.jpg", np.concatenate([part for row in rows for part in (row, gap)][:-1]))
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["id", "name"])
    writer.writerows([data_root.image_name(image_id), name] for image_id, name in names.items())
    file_io.write_bytes_atomic(out / "layouts.csv", text.getvalue().encode())


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("--layouts", type=Path, required=True, help="folder of colour label PNGs")
    command_line.add_root_argument(parser)
    parser.add_argument("--level", choices=sorted(SYNTHESIS_SCRIPTS), default="512",
                        help="synthesis level (its model must be trained; default 512)")
    parser.add_argument("--out", type=Path, help="output folder (default ROOT/result/own_layouts)")
    args = parser.parse_args(argv)
    root = args.root.resolve()
    out = (args.out or root / "result" / "own_layouts").resolve()
    work = out / "work"
    sizes, classes = data_root.load_sizes(root), class_table.load_classes(root)
    if not data_root.dataset_json_path(root).exists():
        raise errors.DataError(f"{data_root.dataset_json_path(root)}: not a prepared data root")

    if not args.layouts.is_dir():
        raise errors.DataError(f"{args.layouts}: folder not found")
    make_work_root(root, work)
    names = place_layouts(args.layouts, work, sizes, classes)
    LOG.info("%d layouts placed in %s", len(names), work / folders.TEST_LABELS)
    for step in ("test_connect_component_mask", "search_segments", "test_generate_order"):
        run(f"data_prep/{step}.py", work)
    run("data_prep/test_generate_transform.py", work)
    if (root / folders.TRANSFORM_MODEL).is_dir():
        run("python_code/transformation.py", work, "--test")
    if (root / folders.ORDER_MODEL).is_dir():
        run("python_code/order.py", work, "--test")
    if args.level != "512":
        run("data_prep/test_generate_transform.py", work, "--level", args.level)
    run("data_prep/test_generate_canvas.py", work, "--level", args.level)
    run(SYNTHESIS_SCRIPTS[args.level], work, "--test")
    write_outputs(work, out, names, args.level, sizes)
    LOG.info("%d images and a contact sheet in %s", len(names), out)


if __name__ == "__main__":
    command_line.run_cli(main)
