"""Render a stick figure (and the props of a pouring scene) going through an action's phases.

An action is a list of key poses; phase ``k`` moves the figure from key pose ``k`` to ``k + 1``
with its own random duration and easing, so the phase of a frame cannot be read off its position
in the video. Each video also draws its own background, colours, figure size and place, camera
drift and shake, a distracting moving ball and sensor noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

Pose = Mapping[str, float]

#: Joint angles are radians from straight down; ``crouch`` and ``lift`` are fractions of the
#: figure's height; ``rot`` turns the whole body; the pouring props read ``tilt``, ``fill``.
NEUTRAL: dict[str, float] = {
    "arm_l": 0.3, "arm_r": -0.3, "elbow_l": 0.0, "elbow_r": 0.0, "leg_l": 0.15, "leg_r": -0.15,
    "knee_l": 0.0, "knee_r": 0.0, "lean": 0.0, "rot": 0.0, "crouch": 0.0, "lift": 0.0,
    "shift": 0.0, "tilt": 0.0, "fill": 0.0,
}


@dataclass(frozen=True)
class Appearance:
    """Everything about a video's look that does not depend on the action."""

    background: np.ndarray  # (H, W, 3) float32 in [0, 255]
    body_color: np.ndarray  # (3,)
    limb_color: np.ndarray  # (3,)
    head_color: np.ndarray  # (3,)
    prop_color: np.ndarray  # (3,)
    liquid_color: np.ndarray  # (3,)
    scale: float  # figure height as a fraction of the frame height
    limb_width: float  # limb radius as a fraction of the figure's height
    anchor: tuple[float, float]  # figure hip position (x, y) as fractions of the frame
    drift: tuple[float, float]  # camera drift over the video, pixels
    shake: float  # camera shake, pixels
    noise: float  # sensor noise standard deviation
    ball: tuple[float, float, float, float, float]  # x0, y0, vx, vy (fractions per video), radius
    # Broadcast style only (``broadcast_appearance``): a score box (x0, y0, w, h as fractions of the
    # frame) whose blocky digits change every ``overlay_period`` frames, drawn from ``overlay_seed``
    # (so the overlay never depends on the action); joints drawn as discs of ``joint_color``.
    overlay: tuple[float, float, float, float] | None = None
    overlay_seed: int = 0
    overlay_period: int = 40
    joint_color: np.ndarray | None = None


def random_appearance(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    figure_scale: tuple[float, float] = (0.75, 0.9),
    limb_width: float = 0.07,
) -> Appearance:
    """Draw a video's background, colours, figure placement and camera from ``rng``.

    The figure is dark (every channel below 60) on a light, textured background (above 150 before
    the texture), like a person in front of a lit wall: its colours, background, size, place,
    camera and noise still change from video to video, but its pose is always visible. The
    figure's height is ``figure_scale`` (a range) of the frame height, its limbs ``limb_width``
    of its height in radius.

    Why: with every colour uniform in 0..255 (background included) and a figure 0.38-0.5 of a
    96 px frame (limbs 3 px wide), a ResNet-18 trained from scratch *with the phase labels* did
    not generalise from 16 videos to new ones (val accuracy 0.19-0.30, chance 0.26, after 200
    steps), so no self-supervised method could learn the phases from it within the demo's
    budget (experiments/LOG.md, issue 9).
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    top, bottom = rng.uniform(150, 245, size=(2, 3))
    gradient = y[..., None] / max(height - 1, 1)
    background = top * (1 - gradient) + bottom * gradient
    for _ in range(3):  # low-frequency texture so the background is not flat
        fx, fy, phase = rng.uniform(0.02, 0.15), rng.uniform(0.02, 0.15), rng.uniform(0, 2 * np.pi)
        background += rng.uniform(2, 10) * np.sin(fx * x + fy * y + phase)[..., None] * rng.uniform(-1, 1, 3)
    floor = int(height * rng.uniform(0.78, 0.9))
    background[floor:] = background[floor:] * 0.6 + rng.uniform(100, 200, 3) * 0.4
    figure = rng.uniform(0, 60, size=(3, 3))
    props = rng.uniform(0, 255, size=(2, 3))
    return Appearance(
        background=np.clip(background, 0, 255).astype(np.float32),
        body_color=figure[0], limb_color=figure[1], head_color=figure[2], prop_color=props[0],
        liquid_color=props[1],
        **_placement(rng, height, width, figure_scale, limb_width, anchor=((0.35, 0.6), (0.5, 0.58)),
                     drift=(0.08, 0.05), shake=(0.0, 1.5), noise=(2.0, 9.0), ball_radius=(0.03, 0.07)),
    )


def _placement(rng: np.random.Generator, height: int, width: int, figure_scale: tuple[float, float],
               limb_width: float, *, anchor, drift, shake, noise, ball_radius) -> dict:
    """The figure's size and place, the camera, the noise and the ball of an ``Appearance``, each
    drawn from its range (``anchor``: x and y ranges as fractions of the frame; ``drift``: the
    largest pan as fractions of the width and height), in one fixed order so a seed gives one look."""
    return {
        "scale": float(rng.uniform(*figure_scale)),
        "limb_width": limb_width,
        "anchor": (float(rng.uniform(*anchor[0])), float(rng.uniform(*anchor[1]))),
        "drift": (float(rng.uniform(-drift[0], drift[0]) * width), float(rng.uniform(-drift[1], drift[1]) * height)),
        "shake": float(rng.uniform(*shake)),
        "noise": float(rng.uniform(*noise)),
        "ball": (float(rng.uniform(0, 1)), float(rng.uniform(0, 0.6)), float(rng.uniform(-1, 1)),
                 float(rng.uniform(-0.5, 0.5)), float(rng.uniform(*ball_radius))),
    }


def broadcast_appearance(
    rng: np.random.Generator,
    height: int,
    width: int,
    *,
    figure_scale: tuple[float, float] = (0.45, 0.6),
    limb_width: float = 0.05,
) -> Appearance:
    """A second look for FineGym-layout videos, like a broadcast of a competition rather than the
    studio of ``random_appearance``: a light, jointed figure (limbs and a joint disc at every
    elbow, knee and the neck in a second colour) on a dark set with fine texture (a crowd of small
    blocks of colour above a tiled floor), a camera that pans further and shakes more, and a score
    box in a corner whose digits change on their own clock.

    Written as a held-out style (issue 36): the FineGym demo's settings were chosen on the
    studio style only, and the tests check that they still learn on this one.
    """
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = rng.uniform(15, 55, size=3)
    background = np.broadcast_to(base, (height, width, 3)).astype(np.float32).copy()
    horizon = int(height * rng.uniform(0.25, 0.4))
    cell = int(rng.integers(2, 5))  # the crowd: blocks of cell x cell pixels, each its own colour
    crowd = rng.uniform(0, 90, size=(horizon // cell + 1, width // cell + 1, 3))
    background[:horizon] += np.repeat(np.repeat(crowd, cell, 0), cell, 1)[:horizon, :width]
    floor = int(height * rng.uniform(0.78, 0.9))
    tile = rng.uniform(4, 12)
    checker = ((np.floor(x / tile) + np.floor(y / (tile * 0.5))) % 2)[floor:, :, None]
    background[floor:] = background[floor:] * 0.5 + rng.uniform(40, 110, 3) * 0.5 + 12 * checker
    vignette = 1 - 0.35 * (((x - width / 2) / width) ** 2 + ((y - height / 2) / height) ** 2)[..., None]
    figure = rng.uniform(160, 255, size=(4, 3))
    props = rng.uniform(0, 255, size=(2, 3))
    corner = rng.integers(0, 2)  # top-left or bottom-left
    return Appearance(
        background=np.clip(background * vignette, 0, 255).astype(np.float32),
        body_color=figure[0], limb_color=figure[1], head_color=figure[2], prop_color=props[0],
        liquid_color=props[1],
        **_placement(rng, height, width, figure_scale, limb_width, anchor=((0.3, 0.65), (0.5, 0.6)),
                     drift=(0.15, 0.06), shake=(1.5, 3.0), noise=(3.0, 10.0), ball_radius=(0.02, 0.04)),
        overlay=(0.03, 0.04 if corner == 0 else 0.78, float(rng.uniform(0.22, 0.3)), 0.16),
        overlay_seed=int(rng.integers(0, 2**31 - 1)),
        overlay_period=int(rng.integers(25, 60)),
        joint_color=figure[3] * 0.5,
    )


def phase_timeline(
    rng: np.random.Generator,
    num_frames: int,
    num_phases: int,
    concentration: float = 2.5,
) -> tuple[np.ndarray, np.ndarray]:
    """Random phase of every frame and the progress (0..1, eased) inside it.

    Phase lengths are a Dirichlet draw, so two videos of one action disagree on where each phase
    starts. Returns ``phases`` (num_frames,) int64 and ``progress`` (num_frames,) float64.
    """
    if num_frames < num_phases:
        raise ValueError(f"{num_frames} frames cannot hold {num_phases} phases")
    shares = rng.dirichlet(np.full(num_phases, concentration))
    lengths = np.maximum(1, np.round(shares * num_frames).astype(int))
    while lengths.sum() > num_frames:
        lengths[np.argmax(lengths)] -= 1
    while lengths.sum() < num_frames:
        lengths[rng.integers(num_phases)] += 1
    phases = np.repeat(np.arange(num_phases), lengths)
    progress = np.concatenate([(np.arange(n) + 0.5) / n for n in lengths])
    easing = rng.uniform(0.6, 1.6, size=num_phases)  # some phases start fast, some slow
    return phases, progress ** easing[phases]


def interpolate_pose(key_poses: Sequence[Pose], phase: int, progress: float) -> dict[str, float]:
    """Pose at ``progress`` (0..1) through ``phase``: a smooth blend of key poses k and k + 1."""
    a = {**NEUTRAL, **key_poses[phase]}
    b = {**NEUTRAL, **key_poses[phase + 1]}
    w = progress * progress * (3 - 2 * progress)  # smoothstep
    return {k: a[k] * (1 - w) + b[k] * w for k in NEUTRAL}


def _segments(pose: Mapping[str, float], size: float) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Limb segments (start, end) in figure coordinates (x right, y down, hip at the origin)."""
    def limb(origin, angle, length):
        return origin + length * np.array([np.sin(angle), np.cos(angle)])

    hip = np.array([0.0, 0.0])
    neck = limb(hip, np.pi + pose["lean"], 0.32 * size)
    parts = {"torso": (hip, neck)}
    for side in ("l", "r"):
        elbow = limb(neck, pose[f"arm_{side}"], 0.17 * size)
        hand = limb(elbow, pose[f"arm_{side}"] + pose[f"elbow_{side}"], 0.16 * size)
        knee = limb(hip, pose[f"leg_{side}"], 0.24 * size)
        foot = limb(knee, pose[f"leg_{side}"] - pose[f"knee_{side}"], 0.24 * size)
        parts.update({f"upper_arm_{side}": (neck, elbow), f"forearm_{side}": (elbow, hand),
                      f"thigh_{side}": (hip, knee), f"shin_{side}": (knee, foot)})
    parts["head"] = (neck, limb(neck, np.pi + pose["lean"], 0.1 * size))
    return parts


class Canvas:
    """Draws capsules and discs on one float frame with precomputed pixel grids."""

    def __init__(self, height: int, width: int):
        self.y, self.x = np.mgrid[0:height, 0:width].astype(np.float32)

    def capsule(self, image, a, b, radius, color):
        d = b - a
        denom = float(d @ d) or 1e-6
        t = np.clip(((self.x - a[0]) * d[0] + (self.y - a[1]) * d[1]) / denom, 0, 1)
        dist2 = (self.x - a[0] - t * d[0]) ** 2 + (self.y - a[1] - t * d[1]) ** 2
        image[dist2 <= radius * radius] = color

    def disc(self, image, center, radius, color):
        mask = (self.x - center[0]) ** 2 + (self.y - center[1]) ** 2 <= radius * radius
        image[mask] = color

    def box(self, image, center, half_w, half_h, angle, color, fill=1.0, fill_color=None):
        """A rotated rectangle; the lower ``fill`` fraction (in its own frame) gets ``fill_color``."""
        c, s = np.cos(angle), np.sin(angle)
        u = (self.x - center[0]) * c + (self.y - center[1]) * s
        v = -(self.x - center[0]) * s + (self.y - center[1]) * c
        inside = (np.abs(u) <= half_w) & (np.abs(v) <= half_h)
        image[inside] = color
        if fill_color is not None and fill > 0:
            level = half_h - 2 * half_h * fill
            image[inside & (v >= level) & (np.abs(u) <= half_w * 0.75)] = fill_color


def render_video(
    rng: np.random.Generator,
    key_poses: Sequence[Pose],
    phases: np.ndarray,
    progress: np.ndarray,
    height: int,
    width: int,
    *,
    pouring_props: bool = False,
    appearance: Appearance | None = None,
    poses: Sequence[Pose] | None = None,
) -> np.ndarray:
    """Render one video.

    Args:
        rng: the video's random generator (noise and shake are drawn from it).
        key_poses: ``num_phases + 1`` key poses (ignored where ``poses`` is given).
        phases, progress: per-frame phase and progress, shape ``(T,)``.
        height, width: frame size in pixels.
        pouring_props: draw a cup in the right hand and a glass that fills up.
        appearance: the video's look; drawn from ``rng`` when None.
        poses: explicit per-frame poses (used for FineGym's concatenated elements).

    Returns:
        uint8 array ``(T, height, width, 3)``.
    """
    appearance = appearance or random_appearance(rng, height, width)
    canvas = Canvas(height, width)
    num_frames = len(phases) if poses is None else len(poses)
    size = appearance.scale * height
    thickness = max(1.0, appearance.limb_width * size)
    frames = np.empty((num_frames, height, width, 3), dtype=np.uint8)
    for t in range(num_frames):
        pose = {**NEUTRAL, **poses[t]} if poses is not None else interpolate_pose(key_poses, int(phases[t]), float(progress[t]))
        image = appearance.background.copy()
        ball_x, ball_y, ball_vx, ball_vy, ball_r = appearance.ball
        along = t / max(num_frames - 1, 1)
        bx = ((ball_x + ball_vx * along) % 1.0) * width
        by = ((ball_y + ball_vy * along) % 0.7) * height
        canvas.disc(image, (bx, by), ball_r * height, appearance.prop_color * 0.5 + 60)

        shake = rng.normal(0, appearance.shake, 2) if appearance.shake > 0 else np.zeros(2)
        offset = np.array([appearance.anchor[0] * width + pose["shift"] * width,
                           appearance.anchor[1] * height + (pose["crouch"] - pose["lift"]) * size])
        offset += np.array(appearance.drift) * along + shake
        c, s = np.cos(pose["rot"]), np.sin(pose["rot"])
        rotation = np.array([[c, -s], [s, c]])
        parts = {k: (rotation @ a + offset, rotation @ b + offset) for k, (a, b) in _segments(pose, size).items()}

        if pouring_props:
            glass = offset + np.array([0.42 * size, -0.05 * size])
            canvas.box(image, glass, 0.07 * size, 0.14 * size, 0.0, appearance.prop_color * 0.6 + 40,
                       fill=pose["fill"], fill_color=appearance.liquid_color)
        for name, (a, b) in parts.items():
            if name == "head":
                canvas.disc(image, b, 0.09 * size, appearance.head_color)
            else:
                color = appearance.body_color if name == "torso" else appearance.limb_color
                canvas.capsule(image, a, b, thickness * (1.8 if name == "torso" else 1.0), color)
        if pouring_props:
            hand = parts["forearm_r"][1]
            canvas.box(image, hand, 0.06 * size, 0.1 * size, pose["tilt"], appearance.prop_color,
                       fill=0.6 * (1 - pose["fill"]), fill_color=appearance.liquid_color)
            if pose["tilt"] > 1.0:  # liquid runs from the cup's lip into the glass
                lip = hand + 0.1 * size * np.array([np.sin(pose["tilt"]), -np.cos(pose["tilt"])])
                canvas.capsule(image, lip, glass - np.array([0, 0.1 * size]), thickness * 0.7,
                               appearance.liquid_color)
        if appearance.joint_color is not None:
            for name in ("upper_arm_l", "upper_arm_r", "thigh_l", "thigh_r"):  # neck, elbows, hip, knees
                for point in parts[name]:
                    canvas.disc(image, point, thickness * 1.3, appearance.joint_color)
        if appearance.overlay is not None:
            _score_box(image, appearance, t)
        image += rng.normal(0, appearance.noise, image.shape).astype(np.float32)
        frames[t] = np.clip(image, 0, 255).astype(np.uint8)
    return frames


def _score_box(image: np.ndarray, appearance: Appearance, t: int) -> None:
    """The broadcast's score box: a dark panel, fixed to the screen (no shake), with a row of
    blocky light digits that change every ``overlay_period`` frames."""
    height, width = image.shape[:2]
    x0, y0, w, h = appearance.overlay
    left, top = int(x0 * width), int(y0 * height)
    right, bottom = min(width, left + max(4, int(w * width))), min(height, top + max(3, int(h * height)))
    image[top:bottom, left:right] = image[top:bottom, left:right] * 0.2 + 10
    digits = np.random.default_rng([appearance.overlay_seed, t // appearance.overlay_period]).random((3, 8)) > 0.5
    cells = np.kron(digits, np.ones((max(1, (bottom - top) // 4), max(1, (right - left) // 9)))).astype(bool)
    patch = image[top + 1:bottom - 1, left + 1:right - 1]
    cells = cells[:patch.shape[0], :patch.shape[1]]
    patch[:cells.shape[0], :cells.shape[1]][cells] = 230.0
