"""Key poses of the synthetic actions: Pouring's five phases, Penn Action-like actions, and the
FineGym-like elements (each element is a short motion; Gym288 splits every Gym99 class in three,
one of them in Gym288 only)."""

from __future__ import annotations

import numpy as np

#: Pouring (TCC labels 5 phases): reach, lift to the glass, tilt and pour, tilt back, put down.
POURING = [
    {"arm_r": 0.2, "elbow_r": 0.0},
    {"arm_r": 1.0, "elbow_r": 0.3},
    {"arm_r": 1.75, "elbow_r": 0.2, "lean": 0.05},
    {"arm_r": 1.85, "elbow_r": 0.3, "tilt": 2.1, "fill": 0.9, "lean": 0.1},
    {"arm_r": 1.4, "elbow_r": 0.4, "tilt": 0.3, "fill": 0.9},
    {"arm_r": 0.3, "elbow_r": 0.0, "fill": 0.9},
]

#: Penn Action-like actions with phase labels (2 to 4 phases), and one without (skipped on ingest).
PENN_ACTIONS = {
    "squat": [
        {"arm_l": 1.4, "arm_r": -1.4},
        {"arm_l": 1.5, "arm_r": -1.5, "crouch": 0.22, "knee_l": 1.2, "knee_r": -1.2, "leg_l": 0.9, "leg_r": -0.9, "lean": 0.25},
        {"arm_l": 1.4, "arm_r": -1.4},
    ],
    "jumping_jacks": [
        {},
        {"arm_l": 2.8, "arm_r": -2.8, "leg_l": 0.5, "leg_r": -0.5, "lift": 0.05},
        {"arm_l": 1.6, "arm_r": -1.6, "leg_l": 0.35, "leg_r": -0.35},
        {},
    ],
    "tennis_serve": [
        {"arm_r": -0.4, "arm_l": 0.6},
        {"arm_r": 0.9, "elbow_r": 1.0, "arm_l": 2.6, "lean": -0.2},
        {"arm_r": -2.9, "elbow_r": 0.1, "arm_l": 1.2, "lean": -0.1, "lift": 0.04},
        {"arm_r": -3.5, "elbow_r": -0.3, "arm_l": 0.5, "lean": 0.35},
        {"arm_r": -0.5, "arm_l": 0.4, "lean": 0.1},
    ],
    "strum_guitar": [
        {"arm_r": -0.9, "elbow_r": -1.2, "arm_l": 1.0, "elbow_l": 0.8},
        {"arm_r": -0.6, "elbow_r": -1.5, "arm_l": 1.0, "elbow_l": 0.8},
    ],
}
PHASELESS_ACTIONS = ("strum_guitar",)


#: The FineGym-like taxonomies. Gym99 has 4 coarse classes (0 turn, 1 jump, 2 leap,
#: 3 handstand); Gym288 refines each into ``VARIANTS`` variants,
#: ``gym288 = VARIANTS * gym99 + variant``. The last variant of every class is in Gym288 only (as
#: rare elements are in FineGym: no Gym99 label), so an event whose elements are all of it is in
#: the Gym288 lists and not in Gym99's.
GYM99_CLASSES = 4
VARIANTS = 3
GYM288_ONLY_VARIANT = VARIANTS - 1


def gym288_of(gym99_class: int, variant: int) -> int:
    """The Gym288 class of variant ``variant`` of Gym99 class ``gym99_class``."""
    return VARIANTS * gym99_class + variant


def gym99_of(gym288_class: int) -> int | None:
    """The Gym99 class a Gym288 class refines, or None for an element of Gym288 only."""
    base, variant = divmod(gym288_class, VARIANTS)
    return None if variant == GYM288_ONLY_VARIANT else base


def finegym_element_poses(gym288_class: int, progress: np.ndarray, direction: float = 1.0) -> list[dict[str, float]]:
    """Per-frame poses of one element of Gym288 class ``gym288_class`` (``gym99_of`` gives its
    Gym99 class); ``progress`` (num_frames,) in 0..1 through the element.

    The variants of a class differ in what the arms and legs do, never in left against right:
    ``direction`` (+1 or -1: which way a turn spins or a leap travels) is drawn per element, so a
    mirrored element is the same element, as the training's horizontal flips assume.
    """
    base, variant = divmod(gym288_class, VARIANTS)
    poses = []
    for p in progress:
        arc = float(np.sin(np.pi * p))
        if base == 0:  # turn: spin on one leg; arms overhead, arms out, or hugged in with a knee up
            arms = (2.9, 1.6, 0.4)[variant]
            pose = {"rot": direction * 0.6 * np.pi * arc, "arm_l": arms, "arm_r": -arms,
                    "leg_l": 0.9 * arc if variant == 2 else 0.0, "knee_l": 1.4 * arc if variant == 2 else 0.0}
        elif base == 1:  # jump: up and down; arms up, arms out, or a tuck (knees to the chest)
            arms = (2.9, 1.6, 0.8)[variant]
            tuck = 1.6 * arc if variant == 2 else 0.0
            pose = {"lift": 0.35 * arc, "arm_l": arms * arc + 0.3, "arm_r": -(arms * arc + 0.3),
                    "leg_l": tuck * 0.8, "leg_r": -tuck * 0.8, "knee_l": tuck, "knee_r": -tuck}
        elif base == 2:  # leap: travel with the legs split; arms up, arms forward, or a low stag leap
            split = (1.3, 1.3, 0.8)[variant]
            arms = (2.6, 1.2, 0.6)[variant]
            pose = {"shift": direction * 0.25 * (p - 0.5), "lift": (0.2, 0.2, 0.08)[variant] * arc,
                    "leg_l": split * arc, "leg_r": -split * arc, "arm_l": arms, "arm_r": -arms,
                    "knee_r": -1.2 * arc if variant == 2 else 0.0}
        else:  # handstand: turn upside down and back; legs together, split, or bent over (a walkover)
            hold = float(np.clip(arc * 1.4, 0, 1))
            legs = (0.12, 0.9, 0.3)[variant]
            pose = {"rot": direction * np.pi * hold, "arm_l": 2.9, "arm_r": -2.9, "leg_l": legs * hold,
                    "leg_r": -legs * hold, "knee_l": 1.5 * hold if variant == 2 else 0.0,
                    "knee_r": -1.5 * hold if variant == 2 else 0.0, "lift": 0.3 * hold}
        poses.append(pose)
    return poses


def idle_poses(rng: np.random.Generator, num_frames: int) -> list[dict[str, float]]:
    """Standing and swaying between elements (frames labelled -1)."""
    sway = rng.uniform(0.05, 0.2)
    t = np.arange(num_frames) / 25.0
    return [{"lean": sway * np.sin(2 * np.pi * 0.4 * x), "arm_l": 0.3 + 0.2 * np.sin(x), "arm_r": -0.3} for x in t]
