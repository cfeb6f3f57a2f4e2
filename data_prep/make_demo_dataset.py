"""Built-in demo data: procedural street scenes in the Cityscapes palette.

Not a step of the original: it stands in for the Cityscapes download so that the whole pipeline
can run and be tested anywhere. Each scene is a street seen from a car: sky, buildings along both
sides (and across the far end) with a skyline, a road in perspective with lane marks, sidewalks,
terrain, walls, fences, trees, poles carrying signs and lights, vehicles sized by their depth,
persons, riders, bicycles and motorcycles. Everything is painted through a depth buffer, so
occlusion, disparity and sizes all come from one camera model.

Writes, under --root (ids %08d: training 1.., test 100001..):
  traindata/RGB256Full RGB512Full RGB1024Full   images at levels 1, 2, 4
  traindata/Label256Full Label512Full Label1024Full  clean colour labels at levels 1, 2, 4
  traindata/label_refine label_refine_512       colour labels at levels 1, 2
  traindata/disparity                           uint16 PNG at level 1, p = 256*d + 1, 0 = invalid
  testdata/label_refine label_refine_512        test layouts
  testdata/RGB256Full RGB512Full                ground-truth test images (for evaluation)
  dataset.json                                  base_height of the root
"""

import argparse
import dataclasses
import functools
import logging

import cv2
import numpy as np

import class_table
import command_line
import data_root
import file_io
import folders
import labels
import matlab_image_ops
import per_image_runner

# ---------------------------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------------------------
DEFAULT_TRAIN_IMAGES = 200
DEFAULT_TEST_IMAGES = 20
DEFAULT_BASE_HEIGHT = 64
DEFAULT_SEED = 0

CAMERA_HEIGHT = 1.5       # metres above the road
FOCAL_PER_WIDTH = 0.55    # focal length in pixels / image width
STEREO_BASELINE = 0.22    # metres, as the Cityscapes rig
DISPARITY_WIDTH = 2048    # disparities are in pixels of a 2048-wide image, as Cityscapes
INVALID_DISPARITY_BLOBS = 6  # small holes per image, as real stereo has
BARRIER_MAX_INSET = 0.8   # walls and fences stand up to this far in front of the facades (metres)
TREE_CROWN = (1.2, 2.2)   # crown radius range (metres)

# Each image also gets one of these classes for sure (in rotation by id), so every class
# appears in any set of a dozen images or more.
GUARANTEED_CLASSES = ("train", "bus", "truck", "motorcycle", "rider", "bicycle", "wall", "fence",
                      "terrain", "traffic light", "traffic sign", "person")

CLASS_ID = {name: index + 1 for index, name in enumerate(class_table.CITYSCAPES.names)}  # 1-based
GROUND_CLASSES = ("road", "sidewalk", "terrain")

# Texture strength per class: (fine grain, blotches), in grey levels.
TEXTURE = {
    "road": (7, 6), "sidewalk": (5, 8), "building": (4, 6), "wall": (6, 8), "fence": (5, 5),
    "pole": (3, 2), "traffic light": (2, 2), "traffic sign": (2, 2), "vegetation": (14, 22),
    "terrain": (10, 14), "sky": (1, 5), "person": (4, 4), "rider": (4, 4), "car": (2, 3),
    "truck": (3, 3), "bus": (2, 3), "train": (2, 3), "motorcycle": (3, 2), "bicycle": (3, 2),
}

FACADE_COLOURS = ((176, 160, 140), (150, 95, 75), (200, 190, 170), (120, 120, 125),
                  (185, 170, 120), (140, 130, 150), (210, 205, 200))
PAINT_COLOURS = ((180, 20, 20), (20, 40, 120), (230, 230, 230), (30, 30, 30), (120, 120, 125),
                 (20, 90, 50), (200, 170, 40), (90, 50, 30))
CLOTHES_COLOURS = ((30, 30, 40), (150, 30, 30), (40, 70, 140), (200, 200, 190), (70, 90, 60),
                   (120, 90, 60), (180, 120, 40))


# ---------------------------------------------------------------------------------------------
# Depth-buffered canvas
# ---------------------------------------------------------------------------------------------

class SceneCanvas:
    """Class, colour and nearness per pixel; a paint only lands where it is nearer.

    Nearness is how many rows below the horizon the painted point stands on the road
    (f * camera height / depth): proportional to disparity, larger = closer.
    """

    def __init__(self, height, width):
        self.height, self.width = height, width
        self.index = np.full((height, width), class_table.VOID_INDEX, np.uint8)
        self.nearness = np.full((height, width), -np.inf, np.float32)
        self.rgb = np.zeros((height, width, 3), np.float32)
        self.instance = np.zeros((height, width), np.int32)
        self.instance_classes = [0]       # 1-based class of each instance id (0 = none)
        self.instance_upright = [False]   # True where an instance stands at one depth (a sprite)
        self.occlusions = set()           # (front instance, back instance) seen while painting

    def paint(self, top, left, mask, nearness, class_name, colour):
        """Paint a local mask placed at (top, left); nearness and colour may be per pixel."""
        mask = np.asarray(mask, bool)
        rows = slice(max(top, 0), min(top + mask.shape[0], self.height))
        cols = slice(max(left, 0), min(left + mask.shape[1], self.width))
        if rows.start >= rows.stop or cols.start >= cols.stop:
            return 0
        local = (slice(rows.start - top, rows.stop - top), slice(cols.start - left, cols.stop - left))
        mask = mask[local]
        nearness = np.asarray(nearness, np.float32)
        upright = nearness.ndim == 0
        nearness = np.broadcast_to(nearness, mask.shape) if upright else nearness[local]
        colour = np.asarray(colour, np.float32)
        colour = np.broadcast_to(colour, mask.shape + (3,)) if colour.ndim == 1 else colour[local]

        instance_id = len(self.instance_classes)
        self.instance_classes.append(CLASS_ID[class_name])
        self.instance_upright.append(upright)
        current = self.nearness[rows, cols]
        covered = mask & (current > -np.inf)
        wins = mask & (nearness > current)
        behind = self.instance[rows, cols]
        self.occlusions.update((instance_id, int(other)) for other in np.unique(behind[wins & covered]))
        hidden = covered & (current > nearness)  # equal depth hides nothing
        self.occlusions.update((int(other), instance_id) for other in np.unique(behind[hidden]))

        self.index[rows, cols][wins] = CLASS_ID[class_name] - 1
        self.nearness[rows, cols][wins] = nearness[wins]
        self.rgb[rows, cols][wins] = colour[wins]
        self.instance[rows, cols][wins] = instance_id
        return instance_id


@dataclasses.dataclass
class Camera:
    height: int
    width: int
    horizon: float      # row of the horizon
    centre: float       # column of the vanishing point
    focal: float        # pixels

    def scale(self, nearness):
        """Pixels per metre at a nearness."""
        return nearness / CAMERA_HEIGHT

    def nearness_at_depth(self, depth):
        return self.focal * CAMERA_HEIGHT / depth

    def column(self, lateral, nearness):
        """Image column of a point `lateral` metres right of the camera at a nearness."""
        return self.centre + lateral * nearness / CAMERA_HEIGHT

    def disparity(self, nearness):
        """Cityscapes-style disparity (pixels at 2048 wide) of a nearness."""
        return STEREO_BASELINE / CAMERA_HEIGHT * nearness * DISPARITY_WIDTH / self.width


def _shape_mask(height, width, draw):
    mask = np.zeros((max(height, 1), max(width, 1)), np.uint8)
    draw(mask)
    return mask.astype(bool)


def _polygon(points):
    return [np.round(np.asarray(points, np.float64)).astype(np.int32)]


# ---------------------------------------------------------------------------------------------
# Scene parts
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Street:
    road_half: float        # metres from the road centre to its edge
    road_offset: float      # lateral position of the road centre
    sidewalk: tuple         # sidewalk width (left, right)
    terrain: tuple          # terrain strip width (left, right), 0 = none
    end_depth: float        # depth of the buildings closing the street

    def edge(self, side):
        """Lateral position of the sidewalk's outer edge plus terrain (where facades stand)."""
        index = 0 if side < 0 else 1
        return self.road_offset + side * (self.road_half + self.sidewalk[index] + self.terrain[index])


def paint_sky(canvas, camera, rng):
    top = np.array(rng.uniform([95, 140, 200], [140, 175, 230]))
    bottom = np.array(rng.uniform([180, 200, 220], [215, 225, 240]))
    rows = np.clip(np.arange(canvas.height) / max(camera.horizon, 1), 0, 1)[:, None, None]
    colour = top * (1 - rows) + bottom * rows
    canvas.paint(0, 0, np.ones((canvas.height, canvas.width), bool), 0.0, "sky",
                 np.broadcast_to(colour, (canvas.height, canvas.width, 3)))


def paint_ground(canvas, camera, street, rng, shadows):
    """Road, sidewalks and terrain: one plane whose nearness grows row by row below the horizon."""
    height, width = canvas.height, canvas.width
    first_row = int(np.floor(camera.horizon)) + 1
    rows = np.arange(first_row, height, dtype=np.float64)[:, None]
    cols = np.arange(width, dtype=np.float64)[None, :]
    nearness = np.broadcast_to(rows - camera.horizon, (rows.shape[0], width))
    lateral = (cols - camera.centre) * CAMERA_HEIGHT / nearness
    depth = camera.focal * CAMERA_HEIGHT / nearness
    across = lateral - street.road_offset
    side_index = (across > 0).astype(int)
    sidewalk = np.where(side_index, street.sidewalk[1], street.sidewalk[0])
    terrain = np.where(side_index, street.terrain[1], street.terrain[0])

    road_colour = rng.uniform(65, 95) * np.array([1.0, 1.0, 1.04])
    side_colour = rng.uniform(120, 165) * np.array([1.0, 0.96, 0.92])
    terrain_colour = np.array(rng.uniform([100, 130, 55], [140, 165, 85]))
    layers = (
        ("road", np.abs(across) <= street.road_half, road_colour),
        ("sidewalk", (np.abs(across) > street.road_half)
         & (np.abs(across) <= street.road_half + sidewalk), side_colour),
        ("terrain", np.abs(across) > street.road_half + sidewalk, terrain_colour),
    )
    # Where no terrain strip is asked for, the band past the sidewalk stays sidewalk.
    beyond = np.abs(across) > street.road_half + sidewalk
    no_terrain = beyond & (terrain <= 0)
    for name, mask, colour in layers:
        if name == "sidewalk":
            mask = mask | no_terrain
        elif name == "terrain":
            mask = mask & ~no_terrain
        rgb = np.broadcast_to(colour, mask.shape + (3,)).copy()
        if name == "road":
            lanes = np.arange(-street.road_half + 3.5, street.road_half - 1.0, 3.5)
            for lane in lanes:
                line = (np.abs(across - lane) < 0.08) & (np.mod(depth, 9.0) < 4.5)
                rgb[line] = (215, 215, 205)
            edge_line = np.abs(np.abs(across) - (street.road_half - 0.25)) < 0.07
            rgb[edge_line] = (200, 200, 190)
        elif name == "sidewalk":
            grid = (np.mod(depth, 1.2) < 0.06) | (np.mod(across, 1.2) < 0.05)
            rgb[grid] *= 0.85
        canvas.paint(first_row, 0, mask, nearness, name, rgb * shadows[first_row:, :, None])


def facade_rows(camera, nearness, height_m):
    """Top and bottom rows of a vertical plane standing on the road at per-column nearness."""
    bottom = camera.horizon + nearness
    return bottom - height_m * camera.scale(nearness), bottom


def paint_side_plane(canvas, camera, lateral, depth_range, height_m, class_name, colour_of):
    """A vertical plane parallel to the street (facade, wall, fence, hedge) on one side.

    height_m and colour_of take per-column depth (metres) arrays so a plane can be a row of
    buildings of different heights and colours.
    """
    cols = np.arange(canvas.width, dtype=np.float64)
    # Column x sees the plane where it stands at nearness (x - centre) * camera height / lateral.
    nearness = np.maximum((cols - camera.centre) * CAMERA_HEIGHT / lateral, 0.0)
    depth = camera.focal * CAMERA_HEIGHT / np.maximum(nearness, 1e-9)
    valid = (nearness > 0) & (depth >= depth_range[0]) & (depth <= depth_range[1])
    if not valid.any():
        return
    heights = np.where(valid, height_m(depth), 0)
    top, bottom = facade_rows(camera, nearness, heights)
    rows = np.arange(canvas.height, dtype=np.float64)[:, None]
    mask = valid[None, :] & (rows >= top[None, :]) & (rows < bottom[None, :])
    height_above = (bottom[None, :] - rows) / np.maximum(camera.scale(nearness)[None, :], 1e-9)
    colour = colour_of(depth, height_above)
    per_pixel_nearness = np.broadcast_to(nearness[None, :], mask.shape)
    canvas.paint(0, 0, mask, per_pixel_nearness, class_name, colour)


def building_row(rng, depth_range, tall=(8.0, 26.0)):
    """Piecewise buildings along depth: breakpoints, heights and colours."""
    edges, heights, colours = [depth_range[0]], [], []
    while edges[-1] < depth_range[1]:
        edges.append(edges[-1] + rng.uniform(8, 28))
        heights.append(rng.uniform(*tall))
        colours.append(np.array(FACADE_COLOURS[rng.integers(len(FACADE_COLOURS))], float)
                       * rng.uniform(0.85, 1.1))
    edges, heights, colours = np.array(edges), np.array(heights), np.array(colours)

    def segment(depth):
        return np.clip(np.searchsorted(edges, depth) - 1, 0, len(heights) - 1)

    def height_m(depth):
        return heights[segment(depth)]

    def colour_of(depth, height_above):
        base = colours[segment(depth)][None, :, :]
        # Windows on a 3.2 m storey and 3.5 m bay grid, above a ground floor.
        windows = ((np.mod(height_above, 3.2) > 1.0) & (np.mod(height_above, 3.2) < 2.4)
                   & (np.mod(depth, 3.5)[None, :] > 0.9) & (np.mod(depth, 3.5)[None, :] < 2.6)
                   & (height_above > 3.0))
        colour = np.broadcast_to(base, height_above.shape + (3,)).copy()
        colour[windows] = colour[windows] * 0.35 + np.array([20, 30, 45])
        return colour

    return height_m, colour_of


def flat_colour(colour, stripes=None):
    """colour_of for a plain plane; stripes = metres between dark vertical slats (fences)."""
    def colour_of(depth, height_above):
        result = np.broadcast_to(np.asarray(colour, float), height_above.shape + (3,)).copy()
        if stripes:
            slats = np.broadcast_to(np.mod(depth, stripes)[None, :] < stripes * 0.3, height_above.shape)
            result[slats] *= 0.6
        return result
    return colour_of


def paint_backdrop(canvas, camera, street, rng):
    """Buildings across the far end of the street, all at the end depth."""
    nearness = camera.nearness_at_depth(street.end_depth)
    left, right = street.edge(-1) - 5, street.edge(1) + 5
    position = left
    while position < right:
        width_m = rng.uniform(6, 20)
        height_m = rng.uniform(8, 32)
        x0, x1 = camera.column(position, nearness), camera.column(position + width_m, nearness)
        y1 = camera.horizon + nearness
        y0 = y1 - height_m * camera.scale(nearness)
        top, left_px = int(np.floor(y0)), int(np.floor(x0))
        mask = np.ones((max(int(np.ceil(y1)) - top, 1), max(int(np.ceil(x1)) - left_px, 1)), bool)
        colour = np.array(FACADE_COLOURS[rng.integers(len(FACADE_COLOURS))], float) * rng.uniform(0.8, 1.0)
        canvas.paint(top, left_px, mask, nearness, "building", colour)
        position += width_m


def standing_box(camera, lateral, depth, width_m, height_m):
    """Pixel box (top, left, height, width) and nearness of an object standing on the road."""
    nearness = camera.nearness_at_depth(depth)
    scale = camera.scale(nearness)
    foot = camera.horizon + nearness
    centre = camera.column(lateral, nearness)
    width_px, height_px = max(width_m * scale, 1.0), max(height_m * scale, 1.0)
    return foot, centre, width_px, height_px, nearness


def paint_vehicle(canvas, camera, rng, kind, lateral, depth, shadows):
    sizes = {"car": (1.8, 1.5), "truck": (2.4, 3.3), "bus": (2.55, 3.1), "train": (2.65, 3.6)}
    width_m, height_m = sizes[kind]
    width_m *= rng.uniform(0.92, 1.08)
    height_m *= rng.uniform(0.92, 1.08)
    foot, centre, width_px, height_px, nearness = standing_box(camera, lateral, depth, width_m, height_m)
    top, left = int(np.floor(foot - height_px)), int(np.floor(centre - width_px / 2))
    h, w = int(np.ceil(height_px)) + 1, int(np.ceil(width_px)) + 1

    if kind == "car":
        body_top = 0.45 * h
        outline = _polygon([(0, h), (0, body_top), (0.15 * w, 0.08 * h), (0.85 * w, 0.08 * h),
                            (w, body_top), (w, h)])
        windows = _polygon([(0.12 * w, body_top), (0.2 * w, 0.15 * h), (0.8 * w, 0.15 * h),
                            (0.88 * w, body_top)])
        paint = np.array(PAINT_COLOURS[rng.integers(len(PAINT_COLOURS))], float)
    else:
        outline = _polygon([(0, h), (0, 0.02 * h), (w, 0.02 * h), (w, h)])
        windows = _polygon([(0.08 * w, 0.1 * h), (0.92 * w, 0.1 * h), (0.92 * w, 0.42 * h),
                            (0.08 * w, 0.42 * h)])
        choices = {"truck": ((210, 210, 205), (60, 90, 150), (180, 60, 40)),
                   "bus": ((200, 40, 35), (240, 200, 20), (230, 230, 225)),
                   "train": ((225, 225, 220), (215, 190, 40))}[kind]
        paint = np.array(choices[rng.integers(len(choices))], float)
    mask = _shape_mask(h, w, lambda m: cv2.fillPoly(m, outline, 1))
    glass = _shape_mask(h, w, lambda m: cv2.fillPoly(m, windows, 1))
    colour = np.broadcast_to(paint, (h, w, 3)).copy()
    colour[glass] = (40, 50, 60)
    wheel_rows = slice(int(0.82 * h), h)
    for wheel in (slice(int(0.08 * w), int(0.25 * w) + 1), slice(int(0.75 * w), int(0.92 * w) + 1)):
        colour[wheel_rows, wheel] = (20, 20, 20)
    if kind == "train":
        colour[int(0.55 * h):int(0.62 * h), :] = (170, 30, 30)

    # The shadow falls on the ground around the contact line, wider than the body.
    shadow_centre = (int(round(centre)), int(round(foot)))
    axes = (int(0.62 * width_px) + 1, max(int(0.12 * width_px), 1))
    cv2.ellipse(shadows, shadow_centre, axes, 0, 0, 360, 0.45, -1)
    canvas.paint(top, left, mask, nearness, kind, colour)


def paint_person(canvas, camera, rng, lateral, depth, class_name="person", nearer_by=1.0):
    height_m = rng.uniform(1.6, 1.9)
    foot, centre, width_px, height_px, nearness = standing_box(camera, lateral, depth, 0.5, height_m)
    nearness *= nearer_by
    h, w = int(np.ceil(height_px)) + 1, int(np.ceil(width_px)) + 1
    top, left = int(np.floor(foot - height_px)), int(np.floor(centre - width_px / 2))
    head = max(int(round(0.065 * h)), 1)
    mask = _shape_mask(h, w, lambda m: (
        cv2.circle(m, (w // 2, head), head, 1, -1),
        cv2.fillPoly(m, _polygon([(0.1 * w, 2 * head), (0.9 * w, 2 * head), (0.85 * w, 0.55 * h),
                                  (0.15 * w, 0.55 * h)]), 1),
        cv2.fillPoly(m, _polygon([(0.2 * w, 0.55 * h), (0.48 * w, 0.55 * h), (0.45 * w, h),
                                  (0.22 * w, h)]), 1),
        cv2.fillPoly(m, _polygon([(0.52 * w, 0.55 * h), (0.8 * w, 0.55 * h), (0.78 * w, h),
                                  (0.55 * w, h)]), 1)))
    colour = np.empty((h, w, 3))
    colour[:] = CLOTHES_COLOURS[rng.integers(len(CLOTHES_COLOURS))]
    colour[int(0.55 * h):] = CLOTHES_COLOURS[rng.integers(len(CLOTHES_COLOURS))]
    colour[:2 * head] = rng.uniform([150, 110, 90], [235, 190, 160])
    canvas.paint(top, left, mask, nearness, class_name, colour)


def paint_two_wheeler(canvas, camera, rng, kind, lateral, depth):
    """Bicycle or motorcycle seen from the side: two wheels and a frame."""
    length_m, height_m = (1.75, 1.05) if kind == "bicycle" else (2.1, 1.2)
    foot, centre, width_px, height_px, nearness = standing_box(camera, lateral, depth, length_m, height_m)
    h, w = int(np.ceil(height_px)) + 1, int(np.ceil(width_px)) + 1
    top, left = int(np.floor(foot - height_px)), int(np.floor(centre - width_px / 2))
    radius = max(int(0.23 * w), 1)
    thickness = max(int(0.06 * w), 1) if kind == "bicycle" else -1
    mask = _shape_mask(h, w, lambda m: (
        cv2.circle(m, (radius, h - radius - 1), radius, 1, thickness),
        cv2.circle(m, (w - radius - 1, h - radius - 1), radius, 1, thickness),
        cv2.fillPoly(m, _polygon([(radius, h - radius), (0.45 * w, 0.35 * h), (0.75 * w, 0.3 * h),
                                  (w - radius, h - radius), (0.5 * w, h - radius * 0.8)]), 1)
        if kind == "motorcycle" else
        cv2.polylines(m, _polygon([(radius, h - radius), (0.45 * w, 0.4 * h), (0.7 * w, 0.4 * h),
                                   (w - radius, h - radius), (0.5 * w, h - radius)]), True, 1,
                      max(int(0.05 * w), 1))))
    colour = (35, 35, 40) if kind == "motorcycle" else np.array(
        CLOTHES_COLOURS[rng.integers(len(CLOTHES_COLOURS))], float) * 0.8
    canvas.paint(top, left, mask, nearness, kind, colour)


def paint_pole(canvas, camera, rng, lateral, depth, sign, light):
    height_m = rng.uniform(4.0, 7.0)
    foot, centre, width_px, height_px, nearness = standing_box(camera, lateral, depth, 0.2, height_m)
    top, left = int(np.floor(foot - height_px)), int(np.floor(centre - width_px / 2))
    w = max(int(round(width_px)), 1)
    h = int(np.ceil(height_px))
    canvas.paint(top, left, np.ones((h, w), bool), nearness, "pole", (95, 95, 100))
    scale = camera.scale(nearness)
    # Signs and lights hang slightly in front of their pole.
    if sign:
        size = max(int(round(rng.uniform(0.6, 0.9) * scale)), 2)
        sign_top = int(round(foot - rng.uniform(2.3, 3.3) * scale))
        circular = rng.random() < 0.5
        mask = _shape_mask(size, size, lambda m: cv2.circle(m, (size // 2, size // 2), size // 2, 1, -1)
                           if circular else m.fill(1))
        colour = np.broadcast_to(np.array((200, 30, 30) if circular else (30, 70, 170), float),
                                 (size, size, 3)).copy()
        colour[size // 4: size - size // 4, size // 4: size - size // 4] = (235, 235, 235)
        canvas.paint(sign_top, int(round(centre - size / 2)), mask, nearness * 1.01, "traffic sign", colour)
    if light:
        box_w, box_h = max(int(round(0.35 * scale)), 1), max(int(round(1.0 * scale)), 2)
        light_top = int(round(foot - height_px))
        colour = np.broadcast_to(np.array((35, 35, 35), float), (box_h, box_w, 3)).copy()
        lit = rng.integers(3)
        colour[lit * box_h // 3:(lit + 1) * box_h // 3] = ((220, 40, 30), (240, 180, 30), (40, 210, 90))[lit]
        canvas.paint(light_top, int(round(centre - box_w / 2)), np.ones((box_h, box_w), bool),
                     nearness * 1.01, "traffic light", colour)


def paint_tree(canvas, camera, rng, lateral, depth, crown_m):
    trunk_m = rng.uniform(1.8, 3.0)
    foot, centre, _, trunk_px, nearness = standing_box(camera, lateral, depth, 0.3, trunk_m)
    scale = camera.scale(nearness)
    crown = max(int(round(crown_m * scale)), 1)
    trunk_w = max(int(round(0.3 * scale)), 1)
    h = int(np.ceil(trunk_px)) + 2 * crown
    w = 2 * crown + 1
    top, left = int(np.floor(foot - h)), int(np.floor(centre - crown))
    mask = _shape_mask(h, w, lambda m: (
        cv2.rectangle(m, (crown - trunk_w // 2, crown), (crown + trunk_w // 2, h - 1), 1, -1),
        cv2.ellipse(m, (crown, crown), (crown, int(crown * 0.9)), 0, 0, 360, 1, -1)))
    colour = np.broadcast_to(np.array(rng.uniform([45, 85, 25], [80, 125, 50])), (h, w, 3)).copy()
    colour[2 * crown:] = (70, 55, 40)
    canvas.paint(top, left, mask, nearness, "vegetation", colour)


# ---------------------------------------------------------------------------------------------
# One scene
# ---------------------------------------------------------------------------------------------

@dataclasses.dataclass
class Scene:
    rgb: np.ndarray          # HxWx3 uint8
    index: np.ndarray        # HxW uint8, class index 0..18 (255 void)
    disparity: np.ndarray    # HxW float32, pixels at 2048 wide; 0 = invalid
    instance: np.ndarray     # HxW int32 instance ids
    instance_classes: list   # 1-based class per instance id
    instance_upright: list   # per instance id: painted at a single depth
    occlusions: set          # (front id, back id) pairs met while painting


def render_scene(rng, height, width, guaranteed=None, texture_scale=1.0):
    """Render one street scene at height x width."""
    camera = Camera(height, width, horizon=height * rng.uniform(0.38, 0.48),
                    centre=width * rng.uniform(0.42, 0.58), focal=width * FOCAL_PER_WIDTH)
    street = Street(road_half=rng.uniform(3.5, 7.0), road_offset=rng.uniform(-1.5, 1.5),
                    sidewalk=tuple(rng.uniform(2.0, 4.5, 2)),
                    terrain=tuple(np.where(rng.random(2) < 0.35, rng.uniform(1.0, 3.0, 2), 0.0)),
                    end_depth=rng.uniform(70, 220))
    wanted = {name: rng.random() < chance for name, chance in (
        ("train", 0.08), ("bus", 0.25), ("truck", 0.3), ("motorcycle", 0.3), ("rider", 0.35),
        ("bicycle", 0.35), ("wall", 0.35), ("fence", 0.4), ("traffic light", 0.6),
        ("traffic sign", 0.7), ("person", 0.75))}
    if guaranteed:
        wanted[guaranteed] = True
    if guaranteed == "terrain" and max(street.terrain) == 0:
        street.terrain = (rng.uniform(1.0, 3.0), street.terrain[1])

    canvas = SceneCanvas(height, width)
    shadows = np.ones((height, width), np.float32)
    far = street.end_depth

    def depth_between(low, high):
        # Uniform in nearness, so objects spread over the image rows rather than bunching far away.
        return 1.0 / rng.uniform(1.0 / high, 1.0 / low)

    def sidewalk_room(side):
        """Width in front of the walls and facades of a side, from the road edge (metres)."""
        index = 0 if side < 0 else 1
        return street.sidewalk[index] + street.terrain[index] - BARRIER_MAX_INSET - 0.1

    def on_sidewalk(side, half_width):
        """Lateral position whose far edge stays clear of walls and facades: a flat sprite that
        crossed those slanted planes would poke through them. Wide things may overhang the road."""
        room = sidewalk_room(side)
        inset = min(rng.uniform(0.2, max(room - half_width, 0.2)), room - half_width)
        return street.road_offset + side * (street.road_half + inset)

    def road_lateral(edge_margin=1.2):
        return street.road_offset + rng.uniform(-street.road_half + edge_margin, street.road_half - edge_margin)

    wall_side = rng.choice((-1, 1))
    barrier_side = {"wall": wall_side, "fence": -wall_side}
    paint_sky(canvas, camera, rng)
    paint_backdrop(canvas, camera, street, rng)
    for side in (-1, 1):
        lateral = street.edge(side)
        height_m, colour_of = building_row(rng, (1.0, far))
        if rng.random() < 0.25:  # a park instead of houses on this side
            park_range = (depth_between(8, 40), far)
            park_range = (park_range[0], park_range[0] + rng.uniform(15, 60))
            paint_side_plane(canvas, camera, lateral - side * 0.5, park_range,
                             lambda d: 5.0 + 2.0 * np.sin(d * 0.7), "vegetation",
                             flat_colour(rng.uniform([50, 90, 30], [80, 125, 50])))
        paint_side_plane(canvas, camera, lateral, (1.0, far), height_m, "building", colour_of)
        for name, height_range, colour, stripes in (
                ("wall", (1.0, 2.5), (165, 160, 150), None), ("fence", (1.0, 1.8), (125, 105, 85), 0.6)):
            if wanted[name] and side == barrier_side[name]:
                start = depth_between(5, 30)
                paint_side_plane(canvas, camera, lateral - side * rng.uniform(0.3, BARRIER_MAX_INSET),
                                 (start, start + rng.uniform(8, 40)),
                                 lambda d, h=rng.uniform(*height_range): np.full_like(d, h), name,
                                 flat_colour(np.array(colour) * rng.uniform(0.85, 1.1), stripes))

    for _ in range(rng.integers(0, 4)):
        side = rng.choice((-1, 1))
        crown = min(rng.uniform(*TREE_CROWN), max(sidewalk_room(side) / 2, 0.6))
        paint_tree(canvas, camera, rng, on_sidewalk(side, crown), depth_between(6, 60), crown)
    for index in range(rng.integers(1, 4)):
        side = rng.choice((-1, 1))
        paint_pole(canvas, camera, rng, on_sidewalk(side, 0.45), depth_between(5, 50),
                   sign=wanted["traffic sign"] and (index == 0 or rng.random() < 0.5),
                   light=wanted["traffic light"] and (index == 0 or rng.random() < 0.4))

    vehicles = ["car"] * int(rng.integers(1, 6))
    vehicles += [name for name in ("truck", "bus", "train") if wanted[name]]
    for kind in vehicles:
        paint_vehicle(canvas, camera, rng, kind, road_lateral(), depth_between(7, 70), shadows)
    if wanted["person"]:
        for _ in range(rng.integers(1, 5)):
            paint_person(canvas, camera, rng, on_sidewalk(rng.choice((-1, 1)), 0.25), depth_between(5, 40))
    for kind in ("bicycle", "motorcycle"):
        if wanted[kind]:
            side = rng.choice((-1, 1))
            paint_two_wheeler(canvas, camera, rng, kind, on_sidewalk(side, 1.05), depth_between(5, 35))
    if wanted["rider"]:
        kind = "bicycle" if rng.random() < 0.6 else "motorcycle"
        lateral, depth = road_lateral(0.6), depth_between(6, 35)
        paint_two_wheeler(canvas, camera, rng, kind, lateral, depth)
        # The rider sits on the machine, a little in front of it.
        paint_person(canvas, camera, rng, lateral, depth, "rider", nearer_by=1.01)

    # The ground last: it only shows where nothing nearer stands, and carries the shadows.
    paint_ground(canvas, camera, street, rng, shadows)
    rgb = shade(canvas, rng, texture_scale)
    disparity = np.where(canvas.index == CLASS_ID["sky"] - 1, 0.0,
                         camera.disparity(np.maximum(canvas.nearness, 0))).astype(np.float32)
    punch_invalid_holes(disparity, rng)
    return Scene(rgb, canvas.index, disparity, canvas.instance, canvas.instance_classes,
                 canvas.instance_upright, canvas.occlusions)


def smooth_noise(rng, height, width, cell):
    coarse = rng.standard_normal((max(height // cell, 1) + 2, max(width // cell, 1) + 2)).astype(np.float32)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def shade(canvas, rng, texture_scale=1.0):
    """Per-class texture (TEXTURE times texture_scale), then per-image lighting (gain, tint, soft
    vertical falloff)."""
    height, width = canvas.height, canvas.width
    fine = rng.standard_normal((height, width)).astype(np.float32)
    blotches = smooth_noise(rng, height, width, max(height // 24, 2))
    grain = np.zeros(256, np.float32)
    blotch = np.zeros(256, np.float32)
    for name, (fine_amount, blotch_amount) in TEXTURE.items():
        grain[CLASS_ID[name] - 1] = fine_amount * texture_scale
        blotch[CLASS_ID[name] - 1] = blotch_amount * texture_scale
    rgb = canvas.rgb + (grain[canvas.index] * fine + blotch[canvas.index] * blotches)[..., None]
    gain = rng.uniform(0.75, 1.2)
    tint = rng.uniform(0.92, 1.08, 3)
    falloff = 1.0 - 0.12 * np.linspace(0, 1, height)[:, None, None]
    return np.clip(rgb * gain * tint * falloff, 0, 255).round().astype(np.uint8)


def punch_invalid_holes(disparity, rng):
    height, width = disparity.shape
    for _ in range(INVALID_DISPARITY_BLOBS):
        radius = int(rng.integers(1, max(height // 40, 2) + 1))
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        hole = np.zeros(disparity.shape, np.uint8)
        cv2.circle(hole, centre, radius, 1, -1)
        disparity[hole.astype(bool)] = 0


def encode_disparity(disparity):
    """Cityscapes storage: p = 256 * d + 1 as uint16, 0 where invalid."""
    stored = np.where(disparity > 0, np.round(disparity * 256.0) + 1, 0)
    return np.clip(stored, 0, 65535).astype(np.uint16)


def decode_disparity(stored):
    stored = np.asarray(stored, np.float32)
    return np.where(stored > 0, (stored - 1) / 256.0, 0.0).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------------

def output_paths(root, image_id):
    name = data_root.image_name(image_id) + ".png"
    is_test = image_id >= data_root.FIRST_TEST_ID
    image_folders = folders.TEST_IMAGE_FOLDERS if is_test else folders.TRAIN_IMAGE_FOLDERS
    base = root / (folders.TEST if is_test else folders.TRAIN)
    return {base / folder / name: spec for folder, spec in image_folders.items()}


def process_image(image_id, root, sizes, seed, texture_scale=1.0):
    rng = per_image_runner.image_rng(seed, image_id)
    guaranteed = GUARANTEED_CLASSES[image_id % len(GUARANTEED_CLASSES)]
    scene = render_scene(rng, *sizes.shape(4), guaranteed=guaranteed, texture_scale=texture_scale)
    for path, (level, kind) in output_paths(root, image_id).items():
        shape = sizes.shape(level)
        if kind == "rgb":
            image = scene.rgb if level == 4 else cv2.resize(scene.rgb, shape[::-1], interpolation=cv2.INTER_AREA)
        elif kind == "label":
            image = labels.index_to_label(matlab_image_ops.resize_nearest(scene.index, shape), class_table.CITYSCAPES)
        else:
            image = encode_disparity(matlab_image_ops.resize_nearest(scene.disparity, shape))
        file_io.write_image(path, image)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    command_line.add_root_argument(parser)
    parser.add_argument("--train", type=int, default=DEFAULT_TRAIN_IMAGES, help="training images")
    parser.add_argument("--test", type=int, default=DEFAULT_TEST_IMAGES, help="test images")
    parser.add_argument("--base-height", type=int, default=DEFAULT_BASE_HEIGHT,
                        help="height of level 1 (the original's 256); a multiple of 32")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--texture-scale", type=command_line.positive_float, default=1.0,
                        help="factor on every class' texture strength (default 1)")
    per_image_runner.add_runner_arguments(parser)
    args = parser.parse_args(argv)

    sizes = data_root.Sizes(args.base_height)
    root = args.root.resolve()
    # roots made before the texture scale was recorded hold the default texture
    data_root.write_dataset_json(root, sizes, source="demo", seed=args.seed, texture_scale=args.texture_scale,
                                 absent_means={"texture_scale": 1.0})
    test_ids = range(data_root.FIRST_TEST_ID, data_root.FIRST_TEST_ID + args.test)
    image_ids = list(range(1, args.train + 1)) + list(test_ids)
    process = functools.partial(process_image, root=root, sizes=sizes, seed=args.seed,
                                texture_scale=args.texture_scale)
    done, skipped = per_image_runner.run_per_image(process, image_ids, lambda i: output_paths(root, i),
                                         workers=args.workers, shard=args.shard,
                                         description="demo dataset")
    logging.getLogger("sims").info("demo dataset in %s: %d images written, %d already there",
                                   root, done, skipped)


if __name__ == "__main__":
    command_line.run_cli(main)
