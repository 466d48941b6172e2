"""The stylized NeRF's training and stages: frozen geometry, both schedules, and the demo end to end.

Upstream models are built small and untrained here (a NeRF with a random hash grid, a random
decoder, made-up style latents): these tests check the stylize/render machinery, not quality.
"""

import json
import time

import numpy as np
import pytest
import torch

from stylizednerf.stylize.train import Stylizer, TrainingViews

TINY = {"rounds": 2, "decoder_steps": 2, "nerf_steps": 3, "batch_views": 2, "rays": 256, "hidden": 16, "layers": 2,
        "encoding_levels": 4, "encoding_log2_table": 10, "encoding_max_resolution": 64,
        "mimic_2d_pixels": 64, "chunk": 4096,
        "style_3d_weight": 0.0}  # the 3D style term has its own tests (it pulls away from L_mimic's targets)


def _tiny_nerf(cameras, holdout_every=0):
    from stylizednerf.nerf.model import NerfModel, resolve_config
    from stylizednerf.nerf.rays import SceneSpace

    cfg = resolve_config({"holdout_every": holdout_every,
                          "fast": {"log2_table": 10, "levels": 4, "max_resolution": 64, "hidden": 16,
                                   "grid_resolution": 16, "coarse_samples": 16, "samples": 8}})
    torch.manual_seed(0)
    return NerfModel(SceneSpace.from_cameras(cameras), cfg)


def _cameras(n=4, width=24, height=16):
    from stylizednerf.cameras import Camera, CameraSet

    cams = []
    for k in range(n):
        c2w = np.eye(4)
        c2w[0, 3] = 0.1 * k
        cams.append(Camera(f"{k:03d}.png", width, height, 20.0, 20.0, width / 2, height / 2, c2w, 1.0, 6.0))
    return CameraSet(cams, "images", "forward")


def _views(cameras):
    g = torch.Generator().manual_seed(0)
    V, H, W = len(cameras), cameras.cameras[0].height, cameras.cameras[0].width
    return TrainingViews(torch.rand(V, H, W, 3, generator=g), torch.full((V, H, W), 3.0),
                         torch.tensor(np.stack([c.intrinsics for c in cameras.cameras]), dtype=torch.float32),
                         torch.tensor(cameras.camera_to_world(), dtype=torch.float32))


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def encoder():
    from stylizednerf.stylization2d.vgg import VGGEncoder

    return VGGEncoder()


def test_fused_geometry_sampling_matches_the_nerf_api():
    from stylizednerf.stylize.field import FrozenField
    from stylizednerf.stylize.rays import image_rays

    cameras = _cameras()
    nerf = _tiny_nerf(cameras)
    cam = cameras.cameras[1]
    origins, directions = image_rays(torch.tensor(cam.intrinsics, dtype=torch.float32),
                                     torch.tensor(cam.camera_to_world, dtype=torch.float32), cam.height, cam.width)
    field = FrozenField(nerf)
    assert field.fused
    fused = field.sample(origins, directions)
    reference = nerf.sample_geometry(origins, directions)
    assert torch.allclose(fused.weights, reference["weights"], atol=1e-6)
    assert torch.allclose(fused.features, reference["features"], atol=1e-6)
    assert torch.allclose(fused.depth, reference["depth"], atol=1e-5)
    assert fused.weights.sum() > 0


def test_fit_reports_per_view_codes_and_the_mean_latent(encoder, monkeypatch):
    """``fit`` measures the trained NeRF against its targets with each view's code and with the
    style's mean latent: equal when every code is the mean, different when the codes differ."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(n=3)
    torch.manual_seed(0)
    stylizer = Stylizer(TINY, FrozenField(_tiny_nerf(cameras)), _views(cameras), encoder, Decoder(),
                        torch.rand(1, 3, 32, 32), torch.zeros(32), torch.full((32,), 0.5), "cpu", seed=0)
    stylizer.run(progress=False)
    fit = stylizer.fit()
    expected = ((stylizer.render_training_views() - stylizer.targets) ** 2).mean()
    assert abs(fit["mimic_mse"] - float(expected)) < 1e-6
    assert abs(fit["mean_latent_psnr"] - fit["mimic_psnr"]) > 1e-4  # the codes were drawn around the mean
    with torch.no_grad():
        stylizer.latents.codes.copy_(stylizer.latents.mu.expand_as(stylizer.latents.codes))
    same = stylizer.fit()
    assert abs(same["mean_latent_psnr"] - same["mimic_psnr"]) < 1e-4
    # past FIT_PIXELS training pixels, a fixed random subset of them: an estimate of the same MSE
    import stylizednerf.stylize.train as train

    full = stylizer.fit()["mimic_mse"]
    monkeypatch.setattr(train, "FIT_PIXELS", 600)  # of 3 x 16 x 24 = 1152
    part = stylizer.fit()["mimic_mse"]
    assert part != full and abs(part - full) < 0.25 * full
    assert stylizer.fit()["mimic_mse"] == part  # the subset is drawn with its own seed


@pytest.mark.parametrize("mutual", [True, False])
def test_geometry_is_bit_identical_after_stylization(encoder, mutual):
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras()
    nerf = _tiny_nerf(cameras)
    before = {k: v.clone() for k, v in nerf.state_dict().items()}
    torch.manual_seed(0)
    decoder = Decoder()
    decoder_before = [p.detach().clone() for p in decoder.parameters()]
    style = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    stylizer = Stylizer({**TINY, "mutual": mutual}, FrozenField(nerf), _views(cameras), encoder, decoder, style,
                        torch.zeros(32), torch.full((32,), 0.1), "cpu", seed=0)
    codes_before = stylizer.latents.codes.detach().clone()
    module_before = [p.detach().clone() for p in stylizer.style_module.parameters()]
    start = time.perf_counter()
    log = stylizer.run(progress=False)
    wall = time.perf_counter() - start

    # where the time went: each kind of work once, summed over rounds, within the run's wall time
    assert {"decoder steps", "nerf steps", "2D targets"} <= set(stylizer.phase_seconds)
    assert all(v >= 0 for v in stylizer.phase_seconds.values())
    assert 0 < sum(stylizer.phase_seconds.values()) <= wall + 1e-3

    assert len(log) == 2 * (TINY["decoder_steps"] + TINY["nerf_steps"])
    phases = [r["phase"] for r in log]
    if mutual:  # alternating rounds; the second decoder round mimics the NeRF
        assert phases == (["decoder"] * 2 + ["nerf"] * 3) * 2
        assert "mimic_2d" in log[5] and "mimic_2d" not in log[0]
        # round 1's targets come from the decoder after two more steps: they moved, by a little
        [drift] = stylizer.target_drift
        assert drift["round"] == 1 and 0 < drift["mse"] < 0.05 and np.isfinite(drift["psnr"])
    else:  # the official order: all decoder steps, then all NeRF steps, no mimic on the 2D side
        assert phases == ["decoder"] * 4 + ["nerf"] * 6
        assert not any("mimic_2d" in r for r in log)
        assert stylizer.target_drift == []  # one set of targets
    # the geometry (every NeRF tensor: density field, colour head, occupancy grid) is untouched ...
    after = nerf.state_dict()
    assert before.keys() == after.keys()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not any(p.requires_grad for p in nerf.parameters())
    # ... while the things that should learn did
    assert any(not torch.equal(a, b) for a, b in zip(decoder_before, decoder.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(module_before, stylizer.style_module.parameters()))
    assert not torch.equal(codes_before, stylizer.latents.codes)
    assert all(np.isfinite(r["loss"]) for r in log)


def test_style_module_learns_to_mimic_the_targets(encoder):
    """With fixed targets the NeRF side's L_mimic falls: the module really fits colours through the
    frozen weights."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras()
    stylizer = Stylizer({**TINY, "nerf_lr": 1e-2}, FrozenField(_tiny_nerf(cameras)), _views(cameras), encoder,
                        Decoder(), torch.rand(1, 3, 32, 32), torch.zeros(32), torch.full((32,), 0.1), "cpu")
    stylizer.targets = torch.full_like(stylizer.views.rgb, 0.3)
    stylizer.targets[..., 0] = 0.7
    losses = [stylizer.nerf_step()["mimic"] for _ in range(25)]
    assert np.mean(losses[-5:]) < 0.4 * np.mean(losses[:5])  # measured 0.26x after 25 steps


def test_3d_style_term_renders_the_patch_it_names(encoder, monkeypatch):
    """The 3D style term's patch is the square of training pixels below its corner, in the
    colours the stylized NeRF renders there with that view's code."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(n=3)
    stylizer = Stylizer({**TINY, "style_3d_weight": 1.0, "style_3d_patch": 8, "style_3d_patches": 2},
                        FrozenField(_tiny_nerf(cameras)), _views(cameras), encoder, Decoder(),
                        torch.rand(1, 3, 32, 32), torch.zeros(32), torch.full((32,), 0.1), "cpu")
    seen = []
    features = stylizer.encoder.features
    monkeypatch.setattr(stylizer.encoder, "features", lambda image: seen.append(image) or features(image))
    H, W = stylizer.views.size
    corners = torch.tensor([(1 * H + 5) * W + 3, (2 * H + 0) * W + 16])  # view 1 at (5, 3), view 2 at (0, 16)
    loss = stylizer._patch_style_loss(corners)
    assert loss.ndim == 0 and torch.isfinite(loss) and loss > 0
    views = stylizer.render_training_views()  # (V, H, W, 3), each view's own code
    patch = seen[0].permute(0, 2, 3, 1)
    torch.testing.assert_close(patch[0], views[1, 5:13, 3:11], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(patch[1], views[2, 0:8, 16:24], atol=1e-5, rtol=1e-4)
    for corner in stylizer._patch_corners().tolist():  # random corners keep the whole patch inside its view
        assert corner % W <= W - 8 and (corner // W) % H <= H - 8


def test_3d_style_term_moves_the_renderings_towards_the_style(encoder):
    """With the 3D style term the stylized NeRF's renderings end nearer the style's feature
    statistics than with L_mimic alone, from the same start and draws."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(n=3)
    style = torch.zeros(1, 3, 32, 32)
    style[:, :, ::4] = 1.0  # stripes: a texture flat targets do not have
    corners = torch.tensor([0, (1 * 16 + 0) * 24 + 8])
    results = {}
    for weight in (0.0, 0.05):
        torch.manual_seed(0)
        stylizer = Stylizer({**TINY, "nerf_lr": 1e-2, "style_3d_weight": weight, "style_3d_patch": 16},
                            FrozenField(_tiny_nerf(cameras)), _views(cameras), encoder, Decoder(), style,
                            torch.zeros(32), torch.full((32,), 0.1), "cpu", seed=1)
        stylizer.targets = torch.full_like(stylizer.views.rgb, 0.5)
        before = stylizer._patch_style_loss(corners).item()
        for _ in range(30):
            stylizer.nerf_step()
        results[weight] = (before, stylizer._patch_style_loss(corners).item())
    assert results[0.0][0] == pytest.approx(results[0.05][0])  # same start
    assert results[0.05][1] < 0.8 * results[0.0][1], results


def test_3d_style_term_every_few_steps(encoder):
    """``style_3d_every`` = 3: the term is in about a third of the style-module steps, and the
    training log keeps every step (with its own losses)."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(n=3)
    settings = {**TINY, "rounds": 1, "decoder_steps": 1, "nerf_steps": 60, "style_3d_weight": 0.1,
                "style_3d_patch": 8, "style_3d_every": 3}
    stylizer = Stylizer(settings, FrozenField(_tiny_nerf(cameras)), _views(cameras), encoder, Decoder(),
                        torch.rand(1, 3, 32, 32), torch.zeros(32), torch.full((32,), 0.1), "cpu")
    log = stylizer.run(progress=False)
    nerf_rows = [r for r in log if r["phase"] == "nerf"]
    assert len(nerf_rows) == 60 and all("mimic" in r and np.isfinite(r["loss"]) for r in nerf_rows)
    with_term = sum("style_3d" in r for r in nerf_rows)
    assert 10 <= with_term <= 30, with_term  # binomial(60, 1/3): mean 20


def test_checkpoint_resume_gives_the_same_result(encoder, tmp_path):
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras()
    field = FrozenField(_tiny_nerf(cameras))
    settings = {**TINY, "checkpoint_every": 2}

    def make():
        torch.manual_seed(0)
        return Stylizer(settings, field, _views(cameras), encoder, Decoder(), torch.rand(1, 3, 32, 32,
                        generator=torch.Generator().manual_seed(1)), torch.zeros(32), torch.full((32,), 0.1), "cpu")

    full = make()
    full.run(progress=False)
    saved = []

    class Killed(Exception):
        pass

    def checkpoint(state):
        saved.append(state)
        if len(saved) == 3:  # mid-way through round 0's NeRF phase
            raise Killed

    first = make()
    with pytest.raises(Killed):
        first.run(checkpoint, progress=False)
    resumed = make()
    resumed.run(resume=saved[-1], progress=False)
    for a, b in zip(full.style_module.parameters(), resumed.style_module.parameters()):
        assert torch.allclose(a, b, atol=1e-6)
    assert torch.allclose(full.latents.codes, resumed.latents.codes, atol=1e-6)
    # the drift of round 1's targets, measured after the resume, as in the uninterrupted run
    assert len(full.target_drift) == 1
    assert [d["round"] for d in resumed.target_drift] == [1]
    assert resumed.target_drift[0]["mse"] == pytest.approx(full.target_drift[0]["mse"], rel=1e-4)


@pytest.mark.slow
@pytest.mark.parametrize("shading", ["volume", "surface"])
def test_demo_goes_through_the_stages(tmp_path, shading):
    """render-views -> stylize -> render -> render-path through the CLI on a small demo scene,
    with either shading of the style module (recorded in the model file and the metadata)."""
    from PIL import Image

    from stylizednerf.__main__ import main
    from stylizednerf.cameras import read_cameras, write_cameras
    from stylizednerf.demo.cli import write_demo_scene
    from stylizednerf.demo.styles import demo_style
    from stylizednerf.nerf.render import checkpoint_payload
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.video import read_video

    scene = tmp_path / "inputs" / "demo"
    write_demo_scene(scene, {"width": 48, "height": 32, "views": 5, "supersample": 1})
    cameras = read_cameras(scene / "cameras.json")
    poses = tmp_path / "demo" / "poses" / "cameras.json"
    write_cameras(poses, cameras)
    model = tmp_path / "demo" / "nerf" / "model.pt"
    model.parent.mkdir(parents=True)
    torch.save(checkpoint_payload(_tiny_nerf(cameras, holdout_every=4)), model)
    decoder = tmp_path / "decoder.pt"
    torch.save({"decoder": Decoder().state_dict()}, decoder)
    latents = tmp_path / "style_latents.json"
    latents.write_text(json.dumps({"strokes": {"mu": [0.0] * 32, "sigma": [0.2] * 32}}))
    style = tmp_path / "strokes.png"
    Image.fromarray(demo_style("strokes", 64)).save(style)

    cpu = {"device": "cpu", "seed": 0}
    views = tmp_path / "demo" / "views"
    assert main(["render-views", "--model", str(model), "--cameras", str(poses), "--out", str(views),
                 "--settings", json.dumps(cpu)]) == 0
    view_cameras = read_cameras(views / "cameras.json")
    assert len(view_cameras) == 3  # views 0 and 4 are held out
    assert np.load(views / "depth" / "001.npy").shape == (32, 48)
    assert np.load(views / "points" / "001.npy").shape == (32, 48, 3)

    out = tmp_path / "demo" / "strokes"
    stylize_args = ["stylize", "--views", str(views), "--model", str(model), "--decoder", str(decoder),
                    "--latents", str(latents), "--style-image", str(style), "--style", "strokes",
                    "--out", str(out / "stylize"), "--checkpoint-dir", str(out / "stylize_ckpt"),
                    "--settings", json.dumps({**cpu, **TINY, "previews": 2, "shading": shading})]
    assert main(stylize_args) == 0
    for name in ("model.pt", "decoder.pt", "losses.json", "views.png", "metadata.json"):
        assert (out / "stylize" / name).is_file()
    assert torch.load(out / "stylize" / "model.pt", weights_only=True)["shading"] == shading
    meta = json.loads((out / "stylize" / "metadata.json").read_text())
    assert meta["config"]["shading"] == shading
    assert {"decoder steps", "nerf steps"} <= set(meta["phase_seconds"])
    assert sum(meta["phase_seconds"].values()) <= meta["seconds"] + 0.01  # (both rounded)
    assert json.loads((out / "stylize" / "losses.json").read_text())["settings"]["shading"] == shading
    assert not (out / "stylize_ckpt" / "state.pt").exists()

    render_settings = json.dumps({**cpu, "frames": 6, "fps": 5})
    assert main(["render", "--stylized", str(out / "stylize"), "--model", str(model), "--cameras", str(poses),
                 "--out", str(out / "render"), "--settings", render_settings]) == 0
    frames = sorted((out / "render" / "frames").glob("*.png"))
    assert [f.name for f in frames] == [f"{k:03d}.png" for k in range(6)]
    assert Image.open(frames[0]).size == (48, 32)
    assert np.load(out / "render" / "depth" / "000.npy").shape == (32, 48)
    assert len(read_cameras(out / "render" / "cameras.json")) == 6
    assert read_video(out / "render" / "video.mp4").shape == (6, 32, 48, 3)
    assert sorted(p.name for p in (out / "render" / "test").glob("*.png")) == ["000.png", "004.png"]

    path = tmp_path / "demo" / "path"
    assert main(["render-path", "--model", str(model), "--cameras", str(poses), "--out", str(path),
                 "--settings", render_settings]) == 0
    stylized_path = read_cameras(out / "render" / "cameras.json").camera_to_world()
    assert np.allclose(read_cameras(path / "cameras.json").camera_to_world(), stylized_path)
    assert len(list((path / "frames").glob("*.png"))) == 6

    # bad input: one clear line, no output
    with pytest.raises(SystemExit, match="no latent for style 'nope'"):
        main([*stylize_args[:12], "nope", *stylize_args[13:14], str(tmp_path / "bad"), *stylize_args[15:]])
    assert not (tmp_path / "bad").exists()


def test_cached_splat_geometry_gives_the_same_l_co(encoder):
    """The decoder's L_co from the per-pair splat geometry computed once equals the splat done on
    the spot (bit for bit, gradients too), for every pair a decoder batch can draw."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField
    from stylizednerf.stylize.losses import consistency_loss, consistency_loss_cached

    cameras = _cameras(n=5)
    views = _views(cameras)
    views.depth += torch.rand(views.depth.shape, generator=torch.Generator().manual_seed(1))  # not a plane
    stylizer = Stylizer(TINY, FrozenField(_tiny_nerf(cameras)), views, encoder, Decoder(), torch.rand(1, 3, 32, 32),
                        torch.zeros(32), torch.full((32,), 0.1), "cpu")
    assert stylizer.co_cache is not None
    slot, source, mask = stylizer.co_cache
    assert (slot >= 0).sum() == source.shape[0] == mask.shape[0] > 0
    for a in range(stylizer.views.count):
        for b in stylizer.partners[a].tolist():
            assert slot[a, b] >= 0 and slot[b, a] >= 0
    images = torch.rand(4, *stylizer.views.size, 3, requires_grad=True)
    for _ in range(5):
        views_idx, pairs = stylizer._decoder_batch()
        v = stylizer.views
        direct, direct_mask = consistency_loss(images, v.depth[views_idx], v.K[views_idx], v.c2w[views_idx], pairs,
                                               stylizer.s["point_tolerance"])
        rows = slot[views_idx[pairs[:, 0]], views_idx[pairs[:, 1]]]
        cached, cached_mask = consistency_loss_cached(images, pairs, source[rows], mask[rows])
        assert torch.equal(direct_mask, cached_mask) and direct_mask.any()
        assert torch.equal(direct, cached)
        g1, = torch.autograd.grad(direct, images)
        g2, = torch.autograd.grad(cached, images)
        assert torch.equal(g1, g2)
        # past the cache's size bound the stylizer splats on the spot: the same geometry
        cache, stylizer.co_cache = stylizer.co_cache, None
        fresh = stylizer._pair_geometry(views_idx, pairs)
        stylizer.co_cache = cache
        assert all(torch.equal(a, b) for a, b in zip(fresh, stylizer._pair_geometry(views_idx, pairs)))


def assert_trains_alike(cached, direct, steps: int = 3):
    """Two stylizers with the same module and codes (3 views of 16x24), one with a ray cache and
    one sampling on the spot: ``steps`` style-module steps on the same targets give the same losses
    and weights."""
    target = torch.rand(3, 16, 24, 3)
    cached.targets, direct.targets = target, target
    for _ in range(steps):
        a, b = cached.nerf_step(), direct.nerf_step()
        torch.testing.assert_close(a["loss"], b["loss"], atol=1e-6, rtol=1e-5)
    for p, q in zip(cached.style_module.parameters(), direct.style_module.parameters()):
        torch.testing.assert_close(p, q, atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize("encoding", ["none", "hash"])
def test_ray_cache_gives_the_same_renders_and_steps(encoder, encoding):
    """The style module's steps and renders from the cached training-pixel geometry equal those
    sampled on the spot; past the size bound there is no cache. With the module's own position
    encoding, the cache keeps the samples' positions and gives the same numbers too."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(n=3)
    field = FrozenField(_tiny_nerf(cameras))
    with torch.no_grad():  # a denser random field: many samples above the threshold
        field.model.field.encoding.table.uniform_(-3.0, 3.0)
        field.model.field.density_mlp[-1].bias[0] = 3.0  # dense: rays end early, so counts vary
    field.model.grid.density.fill_(10.0)  # occupied everywhere: the sampler spreads samples along the rays
    args = (field, _views(cameras), encoder, Decoder(), torch.rand(1, 3, 32, 32), torch.zeros(32),
            torch.full((32,), 0.1), "cpu")
    settings = {**TINY, "background": 0.5, "chunk": 100,  # chunks across view and row boundaries
                "encoding": encoding}
    cached = Stylizer(settings, *args, seed=3)
    assert (cached.ray_cache.positions is not None) == (encoding == "hash")
    direct = Stylizer({**settings, "ray_cache_bytes": 0}, *args, seed=3)
    assert cached.ray_cache is not None and direct.ray_cache is None
    counts = cached.ray_cache.count
    assert counts.shape[0] == 3 * 16 * 24 and counts.sum() == cached.ray_cache.weights.shape[0] > 0
    direct.style_module.load_state_dict(cached.style_module.state_dict())
    direct.latents.load_state_dict(cached.latents.state_dict())
    torch.testing.assert_close(cached.render_training_views(), direct.render_training_views(), atol=1e-6, rtol=0)
    rays = torch.randint(3 * 16 * 24, (200,), generator=torch.Generator().manual_seed(5))
    latents = torch.randn(200, 32)
    with torch.no_grad():  # the training steps' padded gather: the same colours as the exact one
        exact = cached.ray_cache.render(cached.style_module, rays, latents, 0.5)
        padded = cached.ray_cache.render_padded(cached.style_module, rays, latents, 0.5)
    assert cached.ray_cache.slots == int(counts.max()) and (counts < cached.ray_cache.slots).any()
    torch.testing.assert_close(padded, exact, atol=1e-6, rtol=0)
    assert_trains_alike(cached, direct)
    # an untrained-vs-trained module renders differently: the comparison above has teeth
    fresh = Stylizer(settings, *args, seed=4)
    assert (fresh.render_training_views() - cached.render_training_views()).abs().max() > 1e-3
    # the size bound
    assert Stylizer({**settings, "ray_cache_bytes": 1000}, *args).ray_cache is None
    # the GPU's two-pass build (count, then fill exact buffers) makes the same cache
    from stylizednerf.stylize.ray_cache import RayGeometryCache

    v = cached.views
    build = (field, v.K, v.c2w, 16, 24, 1e-4, 100, 1 << 30)
    one, two = RayGeometryCache.build(*build, two_passes=False), RayGeometryCache.build(*build, two_passes=True)
    for name in ("features", "weights", "start", "count", "leftover"):
        assert torch.equal(getattr(one, name), getattr(two, name)), name
    assert RayGeometryCache.build(*build[:-1], 1000, two_passes=True) is None


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need CUDA")
@pytest.mark.parametrize("style_3d_weight, style_3d_every, co_3d_weight, shading",
                         [(0.0, 1, 0.0, "volume"), (0.5, 1, 0.0, "volume"), (0.5, 2, 0.0, "volume"),
                          (0.5, 2, 1.0, "volume"), (0.0, 1, 0.0, "surface"), (0.5, 2, 1.0, "surface")])
def test_cuda_graph_style_steps_equal_eager_steps(style_3d_weight, style_3d_every, co_3d_weight, shading):
    """The style-module step replayed as a CUDA graph gives the eager step's losses and weights,
    and capturing it (with its warm-up steps) leaves the run unchanged."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylize.field import FrozenField

    encoder = VGGEncoder()  # not the shared fixture: the stylizer moves it to the GPU

    cameras = _cameras(n=3)
    field = FrozenField(_tiny_nerf(cameras).cuda())
    args = (field, _views(cameras), encoder, Decoder(), torch.rand(1, 3, 32, 32), torch.zeros(32),
            torch.full((32,), 0.1), "cuda")
    settings = {**TINY, "style_3d_weight": style_3d_weight, "style_3d_patch": 8, "style_3d_every": style_3d_every,
                "co_3d_weight": co_3d_weight, "co_3d_rays": 128, "shading": shading}
    graphed = Stylizer({**settings, "cuda_graph": True}, *args, seed=3)
    eager = Stylizer({**settings, "cuda_graph": False}, *args, seed=3)
    eager.style_module.load_state_dict(graphed.style_module.state_dict())
    eager.latents.load_state_dict(graphed.latents.state_dict())
    target = torch.rand(3, 16, 24, 3, device="cuda")
    graphed.targets, eager.targets = target.clone(), target.clone()
    # 12 steps: with style_3d_every 2, both step shapes (with and without the term) get drawn
    a = [graphed.nerf_step()["loss"].item() for _ in range(12)]
    b = [eager.nerf_step()["loss"].item() for _ in range(12)]
    assert len(graphed._graphs) == (2 if style_3d_every > 1 else 1) and not eager._graphs
    assert a == pytest.approx(b, rel=1e-4, abs=1e-6)
    assert a[-1] < a[0]  # it trains
    for p, q in zip(graphed.style_module.parameters(), eager.style_module.parameters()):
        torch.testing.assert_close(p, q, atol=1e-4, rtol=1e-3)
    # new targets reach the captured graph (copied into its buffer)
    graphed.targets, eager.targets = 1.0 - target, 1.0 - target
    assert graphed.nerf_step()["mimic"].item() == pytest.approx(eager.nerf_step()["mimic"].item(), rel=1e-4)


def test_stylizer_2d_targets_are_the_one_adain_target(encoder):
    """The trainer's AdaIN targets (encoded once) and its decoder's views use the 2D side's
    ``adain_target``/``decode_target``: the per-frame baseline and the mutual learning agree."""
    from stylizednerf.stylization2d.decoder import Decoder
    from stylizednerf.stylization2d.stylize import adain_target, decode_target
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(n=3)
    torch.manual_seed(0)
    stylizer = Stylizer(TINY, FrozenField(_tiny_nerf(cameras)), _views(cameras), encoder, Decoder(),
                        torch.rand(1, 3, 32, 32), torch.zeros(32), torch.full((32,), 0.5), "cpu", seed=0)
    content = stylizer.views.rgb.permute(0, 3, 1, 2).float()
    with torch.no_grad():
        step = TINY["batch_views"]  # in the trainer's batches: a convolution's sums depend on the batch
        expected = torch.cat([adain_target(encoder, content[i:i + step], stylizer.style_feats[-1])
                              for i in range(0, len(content), step)])
        assert torch.equal(stylizer.targets_2d, expected)
        H, W = stylizer.views.size
        decoded = torch.cat([decode_target(stylizer.decoder, expected[i:i + step], H, W)
                             for i in range(0, len(content), step)]).float().clamp(0, 1).permute(0, 2, 3, 1)
    assert torch.equal(stylizer.stylize_views(), decoded)
