"""Similarity alignment (Umeyama) and pose errors, on synthetic similarity transforms."""

import numpy as np
import pytest

from stylizednerf.poses.accuracy import (apply_similarity, camera_spread, match_and_compare, pose_errors,
                                         rotation_angles_deg, umeyama)


def random_rotation(rng):
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q * np.linalg.det(q)  # det +1


def axis_angle(axis, degrees):
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    a = np.radians(degrees)
    return np.eye(3) + np.sin(a) * k + (1 - np.cos(a)) * k @ k


def random_cameras(rng, n=12):
    c2w = np.tile(np.eye(4), (n, 1, 1))
    c2w[:, :3, :3] = np.stack([random_rotation(rng) for _ in range(n)])
    c2w[:, :3, 3] = rng.normal(size=(n, 3)) * 2.0
    return c2w


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(20, 3))
    rotation, scale, translation = random_rotation(rng), 2.7, np.array([1.0, -3.0, 0.5])
    target = scale * points @ rotation.T + translation
    s, r, t = umeyama(points, target)
    assert s == pytest.approx(scale, rel=1e-10)
    np.testing.assert_allclose(r, rotation, atol=1e-10)
    np.testing.assert_allclose(t, translation, atol=1e-10)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_umeyama_never_returns_a_reflection():
    rng = np.random.default_rng(1)
    points = rng.normal(size=(10, 3))
    mirrored = points * np.array([1.0, 1.0, -1.0])  # best orthogonal fit would be a reflection
    _, r, _ = umeyama(points, mirrored)
    assert np.linalg.det(r) == pytest.approx(1.0)


def test_umeyama_rejects_too_few_points():
    with pytest.raises(ValueError):
        umeyama(np.zeros((2, 3)), np.zeros((2, 3)))


def test_pose_errors_are_zero_after_a_pure_similarity():
    rng = np.random.default_rng(2)
    reference = random_cameras(rng)
    # The estimate lives in another frame: reference = similarity(estimate).
    rotation, scale, translation = random_rotation(rng), 0.3, np.array([5.0, 2.0, -1.0])
    estimate = apply_similarity(reference, 1 / scale, rotation.T, -rotation.T @ translation / scale)
    errors = pose_errors(estimate, reference)
    assert errors["rotation_max_deg"] < 1e-6
    assert errors["centre_max_rel"] < 1e-9
    assert errors["scale"] == pytest.approx(scale, rel=1e-9)


def test_pose_errors_measure_a_rotated_camera_and_a_moved_centre():
    rng = np.random.default_rng(3)
    reference = random_cameras(rng, n=10)
    estimate = apply_similarity(reference, 3.0, random_rotation(rng), np.array([1.0, 2.0, 3.0]))
    estimate[4, :3, :3] = estimate[4, :3, :3] @ axis_angle([0.3, 1.0, 0.2], 2.0)
    errors = pose_errors(estimate, reference)
    assert errors["rotation_errors_deg"][4] == pytest.approx(2.0, abs=1e-6)
    assert errors["rotation_mean_deg"] == pytest.approx(0.2, abs=1e-6)
    assert max(np.delete(errors["rotation_errors_deg"], 4)) < 1e-6
    # Swapping two neighbouring cameras' centres barely touches rotations but shows in centres.
    swapped = estimate.copy()
    swapped[[0, 1], :3, 3] = estimate[[1, 0], :3, 3]
    swapped_errors = pose_errors(swapped, reference)
    distance = np.linalg.norm(reference[0, :3, 3] - reference[1, :3, 3]) / camera_spread(reference[:, :3, 3])
    assert swapped_errors["centre_max_rel"] > 0.25 * distance
    assert errors["centre_max_rel"] < 1e-9


def test_rotation_angles_of_known_rotations():
    angles = rotation_angles_deg(np.stack([np.eye(3)] * 3),
                                 np.stack([axis_angle([0, 0, 1], 10), axis_angle([1, 0, 0], 90), np.eye(3)]))
    np.testing.assert_allclose(angles, [10, 90, 0], atol=1e-6)


def test_match_and_compare_uses_common_names_only():
    rng = np.random.default_rng(4)
    reference = random_cameras(rng, n=5)
    estimated = {f"{i}.png": reference[i] for i in range(4)}
    references = {f"{i}.png": reference[i] for i in range(1, 5)}
    result = match_and_compare(estimated, references)
    assert result["names"] == ["1.png", "2.png", "3.png"]
    with pytest.raises(ValueError):
        match_and_compare({"a": reference[0]}, {"a": reference[0]})
