"""Step 8 (test_generate_canvas.m): the canvas the synthesis network paints on, per test layout.

Reads  testdata/label_refine/NAME.png (the layout, level 1), testdata/transform/transform_<level>/NAME.mat
       (retrieved segments cut from the level's own images: test_generate_transform.py --level),
       the aligned segments of --aligner (`transferred`, resized to the level; when present):
       affine = result/transform/transform_512/NAME.mat (transformation.py; the default at 256 and
       512), flow = result/transform/appearance_flow_512/NAME.mat (appearance_flow.py), none = the
       retrieved segments as they are (the default at 1024); testdata/order/NAME.mat
       and result/order/data/NAME.mat (pair rows and ordering predictions; when present, else the
       class order decides), traindata/Label256Full|512Full|1024Full (labels of the retrieved
       images, for shadows)
Writes testdata/synthesis/transform_order_<level>/NAME.mat:
         proposal  HxWx3 float32 in 0..1, the canvas (black = to be painted)
         answer    NxHxWx3 uint8, the retrieved segments before transformation
         label     HxWx3 uint8, the layout revised to the pasted segments
       and testdata/synthesis/transform_order_<level>_canvas/NAME.jpg, at --level 256|512|1024.
Segments are visited as test_generate_transform.py listed them (all_class_flag, back to front).
Each one with a proposal: its label is cleared under the query, the aligned proposal is kept
only if it overlaps the query more than the unaligned one, pixels where the ordering network
puts an earlier segment in front are cut out, the label takes the class where the segment lands;
then the tricks of the original, each with an option to switch it off: shadow removal near
vehicles of the source image (road, sidewalk), a cleared band around vegetation, inner elision.
A segment without a proposal keeps its class in the label and is cleared on the canvas. Then
context fill (void label pixels get back road, sidewalk, wall, fence, vegetation, terrain, sky)
and outer elision (road, sidewalk and void pixels around objects are cleared below and beside
them, so the network paints shadows there).
"""

import dataclasses
import logging

import numpy as np

import canvas as canvas_ops
import class_table
import command_line
import data_root
import errors
import file_io
import folders
import labels
import matlab_image_ops
import per_image_runner

# The class groups the tricks use come from the dataset's class table (class_table.py); for
# Cityscapes: context_fill road, sidewalk, wall, fence, vegetation, terrain, sky (restored where
# the label went void); objects building, pole, light, sign, person ... bicycle (outer elision
# around them); ground road, sidewalk (cleared below objects and near vehicles); vehicles car,
# truck, bus, train (cast shadows); vegetation_band vegetation.
OUTER_BOX_EXTENSION = 0.125
CODE_BASE = 1 << 16   # (segment index, class) as one number in cut_by_order; classes stay below it
# Per level: band widths as fractions of the image height (shadow removal, vegetation band, inner
# and outer elision) and which aligner's segments are pasted. 256 and 512 follow
# test_generate_canvas.m; 1024 follows its tmpbackup/ variant, which fixed the bands at 31, 21 and
# 41 pixels of a 1024-pixel height, an inner band of 0.025 and pasted the segments untransformed.
BANDS_512 = {"shadow": 0.06, "vegetation": 0.04, "inner": 0.035, "outer": 0.08}
LEVEL_SETTINGS = {
    "256": {"bands": BANDS_512, "aligner": "affine"},
    "512": {"bands": BANDS_512, "aligner": "affine"},
    "1024": {"bands": {"shadow": 31 / 1024, "vegetation": 21 / 1024, "inner": 0.025, "outer": 41 / 1024},
             "aligner": "none"},
}

# the aligners' results (python_code/transformation.py, appearance_flow.py), at level 2 only
ALIGNER_RESULTS = {"affine": folders.TRANSFORMED, "flow": folders.FLOW_TRANSFORMED,
                   "none": None}
ORDER_PAIRS = folders.ORDER_INPUTS
ORDER_PREDICTIONS = folders.ORDER_PREDICTIONS
LAYOUT_FOLDER = folders.TEST_LABELS
TRAIN_IMAGE_LIST = folders.train_images("256")
TRICKS = ("shadow_removal", "vegetation_band", "inner_elision", "context_fill", "outer_elision")

LOG = logging.getLogger("sims")


@dataclasses.dataclass
class Segments:
    """One test image's segments at the canvas size, as test_generate_transform.py wrote them."""
    answer: np.ndarray            # N x H x W x 3 uint8, retrieved segments (untransformed)
    transferred: np.ndarray       # N x H x W x 3 uint8, after the aligner (or = answer)
    query_masks: np.ndarray       # N x H x W bool
    pole_masks: np.ndarray        # N x H x W bool
    classes: np.ndarray           # N
    original_index: np.ndarray    # N, the segment's slice in its class file (1-based)
    response_index: np.ndarray    # N, the retrieved training image (1-based in the sorted list)
    remained_masks: np.ndarray    # M x H x W bool, segments without a proposal
    remained_classes: np.ndarray  # M
    all_class_flag: np.ndarray    # K x 2, [1, proposal] or [2, remained], in visiting order


def output_folders(root, level_name):
    """(canvas .mat folder, .jpg preview folder) of a level."""
    return root / folders.canvases(level_name), root / folders.canvases(level_name, previews=True)


def output_files(root, image_id, level_name):
    name = data_root.image_name(image_id)
    canvases, previews = output_folders(root, level_name)
    return [canvases / f"{name}.mat", previews / f"{name}.jpg"]


def _resize_stack(stack, shape):
    """Nearest resize of N x h x w x 3 arrays (level-2 transformer results to another level)."""
    if stack.shape[1:3] == tuple(shape):
        return stack
    return np.array([matlab_image_ops.resize_nearest(item, shape) for item in stack], stack.dtype).reshape(
        (len(stack),) + tuple(shape) + stack.shape[3:])


def read_segments(root, image_id, sizes, level_name, aligner):
    """The image's Segments at the level; the aligner's (level 2) resized to it."""
    name = data_root.image_name(image_id)
    path = root / folders.transform_inputs(level_name) / f"{name}.mat"
    level_shape = sizes.shape(data_root.LEVELS[level_name])
    names = ["proposal", "mask", "class", "proposal_pole_mask", "response_index", "original_index",
             "mask_remained", "class_remained", "all_class_flag"]
    if not path.exists():
        raise errors.DataError(f"{path}: missing; run data_prep/test_generate_transform.py --level {level_name}")
    data = file_io.load_mat(path, names)
    count = data["class"].size
    remained = data["class_remained"].size
    try:
        answer = data["proposal"].reshape((count,) + level_shape + (3,))
        query = data["mask"].reshape((count,) + level_shape) > 0
        pole = data["proposal_pole_mask"].reshape((count,) + level_shape) > 0
        remained_masks = data["mask_remained"].reshape((remained,) + level_shape) > 0
    except ValueError:
        raise errors.DataError(f"{path}: its arrays do not hold {count} + {remained} segments of "
                               f"{level_shape[0]}x{level_shape[1]}") from None
    transferred = answer
    result = root / ALIGNER_RESULTS[aligner] / f"{name}.mat" if ALIGNER_RESULTS[aligner] else None
    if result is not None and result.exists():
        transferred, level2 = file_io.load_mat(result, ["transferred"])["transferred"], sizes.shape(2)
        if transferred.size != count * level2[0] * level2[1] * 3:
            raise errors.DataError(f"{result}: transferred does not hold the {count} proposals of {path} "
                                   f"at {level2[0]}x{level2[1]}")
        transferred = _resize_stack(transferred.reshape((count,) + level2 + (3,)), level_shape)
    return Segments(
        answer=answer, transferred=transferred, query_masks=query, pole_masks=pole,
        classes=data["class"].ravel().astype(int), original_index=data["original_index"].ravel().astype(int),
        response_index=data["response_index"].ravel().astype(int),
        remained_masks=remained_masks,
        remained_classes=data["class_remained"].ravel().astype(int),
        all_class_flag=data["all_class_flag"].reshape(-1, 2).astype(int))


def read_order(root, image_id, class_count):
    """{(j, k, c1, c2): predicted front class} of an image, or {} without predictions."""
    name = data_root.image_name(image_id)
    prediction_path = root / ORDER_PREDICTIONS / f"{name}.mat"
    if not prediction_path.exists():
        return {}
    rows = file_io.load_mat(root / ORDER_PAIRS / f"{name}.mat", ["semantic_segment_label"])["semantic_segment_label"]
    prediction = file_io.load_mat(prediction_path, ["prediction"])["prediction"]
    rows = rows.reshape(-1, 4).astype(int)
    scores = class_count + 1  # the classes and void
    if prediction.size != len(rows) * scores:
        raise errors.DataError(f"{prediction_path}: prediction {prediction.shape} does not hold {scores} scores for "
                               f"each of the {len(rows)} pairs of {root / ORDER_PAIRS / name}.mat")
    prediction = prediction.reshape(len(rows), scores)
    return {tuple(row): int(np.argmax(scores)) for row, scores in zip(rows, prediction)}


def cut_by_order(landing, fill_region, original_index, class_id, front_of, release_position=None):
    """Pixels of `landing` to give up: those of earlier segments the ordering network puts in front.

    release_position (the segment's 1-based position among the image's proposals) reproduces the
    released test_generate_canvas.m instead: it looks the pair up by that position, in one order
    only, and when the earlier segment is in front it cuts the overlap of the *other* earlier
    segments (so with one overlapping segment nothing is cut)."""
    covered = landing & (fill_region[:, :, 1] > 0)
    cut = np.zeros_like(landing)
    filled = fill_region[covered]
    pairs = np.unique(filled[:, 0] * CODE_BASE + filled[:, 1])   # a 1-D sort: far faster than unique rows
    for earlier_index, earlier_class in zip((pairs // CODE_BASE).tolist(), (pairs % CODE_BASE).tolist()):
        earlier = covered & (fill_region[:, :, 0] == earlier_index) & (fill_region[:, :, 1] == earlier_class)
        if release_position is not None:
            if front_of.get((earlier_index, release_position, earlier_class, class_id)) == earlier_class:
                cut |= covered & ~earlier
            continue
        # a pair is listed once, [j, k, c1, c2] with c1 first in the class order of its run
        front = front_of.get((earlier_index, original_index, earlier_class, class_id),
                             front_of.get((original_index, earlier_index, class_id, earlier_class)))
        if front == earlier_class:
            cut |= earlier
    return cut


def outer_elision(canvas, label_index, shape, classes, band_fraction=BANDS_512["outer"]):
    """Clear ground (road, sidewalk) and void pixels in a band around each object, beside and below it."""
    height, width = shape
    context = np.isin(label_index, [c - 1 for c in classes.ids("ground")]) | (label_index == class_table.VOID_INDEX)
    clear = np.zeros(shape, bool)
    band = canvas_ops.band_width(band_fraction, height)
    for class_id in classes.ids("objects"):
        components, count = matlab_image_ops.connected_components(label_index == class_id - 1)
        for component_id in range(1, count + 1):
            component = components == component_id
            rows, cols = np.nonzero(component)
            extend_rows = (rows.max() - rows.min() + 1) * OUTER_BOX_EXTENSION
            extend_cols = (cols.max() - cols.min() + 1) * OUTER_BOX_EXTENSION
            box = np.zeros(shape, bool)
            box[rows.min():min(int(np.floor(rows.max() + extend_rows + 0.5)), height - 1) + 1,
                max(int(np.floor(cols.min() - extend_cols + 0.5)), 0):
                min(int(np.floor(cols.max() + extend_cols + 0.5)), width - 1) + 1] = True
            clear |= box & canvas_ops.boundary_band(component, band)
    canvas[clear & context] = 0
    return canvas


def compose_canvas(layout_index, segments, front_of, source_label, rng, classes, tricks=TRICKS, bands=BANDS_512,
                   original_ordering_cut=False):
    """(canvas HxWx3 float in 0..1, revised label index HxW) of one test image.

    layout_index: the query layout's class indices at the canvas size; front_of: read_order();
    source_label(response_index) -> class indices of a retrieved training image at this size;
    bands: LEVEL_SETTINGS' band fractions; original_ordering_cut: cut_by_order as released.
    """
    shape = layout_index.shape
    height = shape[0]
    label = layout_index.copy()
    canvas = np.zeros(shape + (3,), np.float64)
    fill_region = np.zeros(shape + (2,), np.int64)   # (original_index, class) that filled each pixel
    for kind, number in segments.all_class_flag:
        j = number - 1
        if kind == 2:
            class_id = segments.remained_classes[j]
            label[segments.remained_masks[j]] = class_id - 1
            canvas[segments.remained_masks[j]] = 0
            continue
        class_id, query = segments.classes[j], segments.query_masks[j]
        label[query | segments.pole_masks[j]] = class_table.VOID_INDEX
        piece, landing = segments.transferred[j], canvas_ops.content_mask(segments.transferred[j])
        untransformed = canvas_ops.content_mask(segments.answer[j])
        if (landing & query).sum() <= (untransformed & query).sum():
            piece, landing = segments.answer[j], untransformed  # the aligner made the fit worse
        landing = landing & ~cut_by_order(landing, fill_region, segments.original_index[j], class_id, front_of,
                                          number if original_ordering_cut else None)
        piece = canvas_ops.masked(piece, landing, 255.0)
        label[landing] = class_id - 1
        fill_region[landing] = (segments.original_index[j], class_id)

        if "shadow_removal" in tricks and class_id in classes.ids("ground"):
            vehicles = np.isin(source_label(segments.response_index[j]), [c - 1 for c in classes.ids("vehicles")])
            shadow = canvas_ops.boundary_band(vehicles, canvas_ops.band_width(bands["shadow"], height))
            piece[shadow & landing] = 0
        if "vegetation_band" in tricks and class_id in classes.ids("vegetation_band"):
            band = canvas_ops.boundary_band(canvas_ops.content_mask(piece),
                                            canvas_ops.band_width(bands["vegetation"], height))
            piece[band] = 0
        # elided and pasted in the landing's box grown by the band: the same pixels and random draws
        # as on the whole image (the box keeps the pixels' order), far fewer to touch
        inner_band = canvas_ops.band_width(bands["inner"], height)
        box = canvas_ops.box_around(landing, inner_band + 2)
        if box is None:
            continue
        piece = piece[box]
        if "inner_elision" in tricks:
            piece = canvas_ops.elide(piece, inner_band, rng, inside_only=True)
        canvas_ops.paste(canvas[box], piece, region=landing[box])

    if "context_fill" in tricks:
        void = label == class_table.VOID_INDEX
        for class_id in classes.ids("context_fill"):
            label[void & (layout_index == class_id - 1)] = class_id - 1
    if "outer_elision" in tricks:
        canvas = outer_elision(canvas, label, shape, classes, bands["outer"])
    return canvas, label


def make_canvas(image_id, root, sizes, classes, level_name, aligner, tricks, original_ordering_cut, seed, train_ids):
    """(canvas, revised label index, Segments) of one test image."""
    level = data_root.LEVELS[level_name]
    shape = sizes.shape(level)
    name = data_root.image_name(image_id)
    layout = matlab_image_ops.resize_nearest(labels.read_label(root / LAYOUT_FOLDER / f"{name}.png", shape=sizes.shape(1),
                                                     classes=classes), shape)
    segments = read_segments(root, image_id, sizes, level_name, aligner)

    def source_label(response_index):
        source_id = train_ids[response_index - 1]
        path = root / folders.clean_labels(level_name) / f"{data_root.image_name(source_id)}.png"
        return matlab_image_ops.resize_nearest(labels.read_label(path, classes=classes), shape)

    canvas, label = compose_canvas(layout, segments, read_order(root, image_id, classes.count), source_label,
                                   per_image_runner.image_rng(seed, image_id), classes, tricks,
                                   LEVEL_SETTINGS[level_name]["bands"], original_ordering_cut)
    return canvas, label, segments


def process_image(image_id, root, sizes, classes, level_name, **options):
    canvas, label, segments = make_canvas(image_id, root, sizes, classes, level_name, **options)
    mat_path, jpg_path = output_files(root, image_id, level_name)
    file_io.write_image(jpg_path, np.round(canvas * 255).astype(np.uint8))
    file_io.save_mat(mat_path, {"proposal": canvas.astype(np.float32), "answer": segments.answer,
                               "label": labels.index_to_label(label, classes)})


def main(argv=None):
    parser = per_image_runner.step_parser(__doc__)
    command_line.add_level_argument(parser)
    aligner = parser.add_mutually_exclusive_group()
    aligner.add_argument("--aligner", choices=tuple(ALIGNER_RESULTS), default=None,
                         help="whose aligned segments to paste: affine (transformation.py; the default at 256 and "
                              "512), flow (appearance_flow.py) or none (retrieved segments as they are; the default "
                              "at 1024)")
    aligner.add_argument("--transform", dest="aligner", action="store_const", const="affine",
                         help="the same as --aligner affine")
    aligner.add_argument("--no-transform", dest="aligner", action="store_const", const="none",
                         help="the same as --aligner none")
    for trick in TRICKS:
        parser.add_argument(f"--no-{trick.replace('_', '-')}", dest=trick, action="store_false")
    parser.add_argument("--original-ordering-cut", action="store_true",
                        help="order overlaps as the released script did (see cut_by_order)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the elision draws")
    args = parser.parse_args(argv)
    if args.aligner is None:
        args.aligner = LEVEL_SETTINGS[args.level]["aligner"]
    root = args.root.resolve()
    tricks = tuple(trick for trick in TRICKS if getattr(args, trick))
    results = ALIGNER_RESULTS[args.aligner]
    aligned = len(list((root / results).glob("*.mat"))) if results else 0
    ordered = len(list((root / ORDER_PREDICTIONS).glob("*.mat")))
    LOG.info("canvas %s: %d images have %s aligner results, %d ordering predictions; tricks: %s",
             args.level, aligned, args.aligner, ordered, ", ".join(tricks) or "none")
    # canvases made from other network results or options are made again, not skipped
    canvases, previews = output_folders(root, args.level)
    per_image_runner.keep_outputs_made_from(
        {"transformation_results": per_image_runner.made_from(root / results) if results else None,
         "ordering_predictions": per_image_runner.made_from(root / ORDER_PREDICTIONS),
         "options": {"aligner": args.aligner, "tricks": tricks, "original_ordering_cut": args.original_ordering_cut,
                     "seed": args.seed}},
        canvases, ".mat", also=[(previews, ".jpg")])
    per_image_runner.run_step(args, f"canvas {args.level}", LAYOUT_FOLDER, process_image,
                    lambda root_, image_id: output_files(root_, image_id, args.level),
                    level_name=args.level, aligner=args.aligner, tricks=tricks,
                    original_ordering_cut=args.original_ordering_cut, seed=args.seed,
                    train_ids=data_root.list_image_ids(root / TRAIN_IMAGE_LIST))


if __name__ == "__main__":
    command_line.run_cli(main)
