"""Key poses of the synthetic actions: Pouring's five phases, Penn Action-like actions, and the
FineGym-like elements (each element is a short motion; Gym288 splits every Gym99 class in two)."""

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


def finegym_element_poses(gym288_class: int, progress: np.ndarray) -> list[dict[str, float]]:
    """Per-frame poses of one element; ``gym288_class // 2`` is its Gym99 class.

    Classes (Gym99): 0 turn, 1 jump, 2 leap, 3 handstand; the Gym288 variant flips the turn
    direction, lifts the arms differently or changes the amplitude.
    """
    base, variant = divmod(gym288_class, 2)
    sign = 1.0 if variant == 0 else -1.0
    poses = []
    for p in progress:
        arc = np.sin(np.pi * p)
        if base == 0:  # turn: a full spin with arms out
            pose = {"rot": sign * 2 * np.pi * p * 0.25, "arm_l": 1.6, "arm_r": -1.6, "lean": sign * 0.3 * arc}
        elif base == 1:  # jump: up and down, arms up (variant: arms out)
            arms = 2.9 if variant == 0 else 1.6
            pose = {"lift": 0.35 * arc, "arm_l": arms * arc + 0.3, "arm_r": -(arms * arc + 0.3),
                    "knee_l": 0.8 * (1 - arc), "knee_r": -0.8 * (1 - arc)}
        elif base == 2:  # leap: travel sideways with legs split
            pose = {"shift": sign * 0.25 * (p - 0.5), "lift": 0.2 * arc, "leg_l": 1.3 * arc,
                    "leg_r": -1.3 * arc, "arm_l": 2.0, "arm_r": -2.0}
        else:  # handstand: rotate upside down and back (variant: hold longer, legs split)
            hold = np.clip(arc * (1.6 if variant else 1.2), 0, 1)
            pose = {"rot": np.pi * hold, "arm_l": 2.9, "arm_r": -2.9, "leg_l": 0.15 + 0.6 * hold * variant,
                    "leg_r": -0.15 - 0.6 * hold * variant, "lift": 0.3 * hold}
        poses.append(pose)
    return poses


def idle_poses(rng: np.random.Generator, num_frames: int) -> list[dict[str, float]]:
    """Standing and swaying between elements (frames labelled -1)."""
    sway = rng.uniform(0.05, 0.2)
    t = np.arange(num_frames) / 25.0
    return [{"lean": sway * np.sin(2 * np.pi * 0.4 * x), "arm_l": 0.3 + 0.2 * np.sin(x), "arm_r": -0.3} for x in t]
