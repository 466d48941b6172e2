"""Pose accuracy: compare estimated cameras with reference cameras up to a similarity transform.

SfM recovers poses only up to a similarity (rotation, translation, scale), so estimated camera
centres are first aligned to the reference centres with Umeyama's closed-form least squares
(:func:`umeyama`); then rotation errors are the angles between aligned and reference camera
rotations, and centre errors are distances between aligned and reference centres divided by the
camera spread (RMS distance of the reference centres from their centroid), so the numbers do
not depend on the scene's units. Centre errors catch mistakes that rotation errors miss, e.g.
two neighbouring images swapped. Pure numpy; camera-to-world matrices are 4x4, OpenCV axes.
"""

import numpy as np


def umeyama(source: np.ndarray, target: np.ndarray, with_scale: bool = True):
    """Similarity (scale, R, t) minimising sum ||target_i - (scale * R @ source_i + t)||^2.

    ``source`` and ``target`` are (N, 3) with N >= 3 points not all on one line.
    """
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if source.shape != target.shape or source.ndim != 2 or source.shape[0] < 3:
        raise ValueError(f"umeyama needs two (N>=3, 3) arrays of equal shape, got {source.shape} and {target.shape}")
    mean_s, mean_t = source.mean(0), target.mean(0)
    centred_s, centred_t = source - mean_s, target - mean_t
    covariance = centred_t.T @ centred_s / len(source)
    u, singular, vt = np.linalg.svd(covariance)
    # Flip the last axis when the best orthogonal matrix would be a reflection.
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[-1] = -1.0
    rotation = u @ np.diag(sign) @ vt
    variance_s = (centred_s ** 2).sum() / len(source)
    scale = float((singular * sign).sum() / variance_s) if with_scale else 1.0
    translation = mean_t - scale * rotation @ mean_s
    return scale, rotation, translation


def apply_similarity(camera_to_world: np.ndarray, scale: float, rotation: np.ndarray,
                     translation: np.ndarray) -> np.ndarray:
    """Cameras (N, 4, 4) moved by x -> scale * R x + t (rotations turn by R, centres move)."""
    out = np.array(camera_to_world, dtype=np.float64, copy=True)
    out[:, :3, :3] = rotation @ out[:, :3, :3]
    out[:, :3, 3] = scale * out[:, :3, 3] @ rotation.T + translation
    return out


def rotation_angles_deg(rotations_a: np.ndarray, rotations_b: np.ndarray) -> np.ndarray:
    """Angle (degrees) of R_a^T R_b for each pair of (N, 3, 3) rotations."""
    relative = np.einsum("nji,njk->nik", rotations_a, rotations_b)
    # atan2 of sine and cosine stays accurate for tiny angles, where arccos loses precision.
    cosine = (np.trace(relative, axis1=1, axis2=2) - 1.0) / 2.0
    skew = np.stack([relative[:, 2, 1] - relative[:, 1, 2], relative[:, 0, 2] - relative[:, 2, 0],
                     relative[:, 1, 0] - relative[:, 0, 1]], axis=1)
    sine = np.linalg.norm(skew, axis=1) / 2.0
    return np.degrees(np.arctan2(sine, cosine))


def camera_spread(centres: np.ndarray) -> float:
    """RMS distance of camera centres (N, 3) from their centroid."""
    centres = np.asarray(centres, dtype=np.float64)
    return float(np.sqrt(((centres - centres.mean(0)) ** 2).sum(1).mean()))


def pose_errors(estimated_c2w: np.ndarray, reference_c2w: np.ndarray) -> dict:
    """Errors of estimated cameras (N, 4, 4) against reference cameras (same order) after alignment.

    Returns rotation errors in degrees, centre errors relative to the reference camera spread,
    and the similarity used (``scale``, ``rotation``, ``translation`` map estimated to reference).
    """
    estimated_c2w = np.asarray(estimated_c2w, dtype=np.float64)
    reference_c2w = np.asarray(reference_c2w, dtype=np.float64)
    scale, rotation, translation = umeyama(estimated_c2w[:, :3, 3], reference_c2w[:, :3, 3])
    aligned = apply_similarity(estimated_c2w, scale, rotation, translation)
    rotation_errors = rotation_angles_deg(aligned[:, :3, :3], reference_c2w[:, :3, :3])
    spread = camera_spread(reference_c2w[:, :3, 3])
    centres = reference_c2w[:, :3, 3]
    extent = float(np.linalg.norm(centres[:, None] - centres[None], axis=-1).max())
    centre_errors = np.linalg.norm(aligned[:, :3, 3] - reference_c2w[:, :3, 3], axis=1) / spread
    return {
        "count": int(len(estimated_c2w)),
        "rotation_mean_deg": float(rotation_errors.mean()),
        "rotation_max_deg": float(rotation_errors.max()),
        "centre_mean_rel": float(centre_errors.mean()),
        "centre_max_rel": float(centre_errors.max()),
        "camera_spread": spread,
        # The same errors relative to the capture's extent (largest distance between two centres).
        "camera_extent": extent,
        "centre_mean_rel_extent": float(centre_errors.mean() * spread / extent),
        "scale": float(scale),
        "rotation": rotation.tolist(),
        "translation": translation.tolist(),
        "rotation_errors_deg": rotation_errors.tolist(),
        "centre_errors_rel": centre_errors.tolist(),
    }


def rotation_alignment_errors(estimated_c2w: np.ndarray, reference_c2w: np.ndarray) -> np.ndarray:
    """Rotation errors (degrees) after the best global rotation alone (chordal mean of R_ref R_est^T).

    For captures whose centres span too little to fix a similarity (narrow baselines), this
    still measures how well the cameras' relative orientations were recovered.
    """
    estimated = np.asarray(estimated_c2w, dtype=np.float64)[:, :3, :3]
    reference = np.asarray(reference_c2w, dtype=np.float64)[:, :3, :3]
    u, _, vt = np.linalg.svd(np.einsum("nij,nkj->ik", reference, estimated))
    rotation = u @ np.diag([1.0, 1.0, np.linalg.det(u @ vt)]) @ vt
    return rotation_angles_deg(rotation @ estimated, reference)


def match_and_compare(estimated: dict, reference: dict) -> dict:
    """:func:`pose_errors` over the file names both ``{name: c2w}`` dicts hold (at least 3)."""
    names = sorted(set(estimated) & set(reference))
    if len(names) < 3:
        raise ValueError(f"only {len(names)} images in common with the reference poses, need 3")
    result = pose_errors(np.stack([estimated[n] for n in names]), np.stack([reference[n] for n in names]))
    result["names"] = names
    rotation_only = rotation_alignment_errors(np.stack([estimated[n] for n in names]),
                                              np.stack([reference[n] for n in names]))
    result["rotation_only_mean_deg"] = float(rotation_only.mean())
    result["rotation_only_max_deg"] = float(rotation_only.max())
    return result
