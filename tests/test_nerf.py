"""NeRF pieces: rays and NDC against hand-computed cases, volume rendering against analytic
cases, the hash encoding, checkpoint round trip and resume."""

import json
import math

import numpy as np
import pytest
import torch

from stylizednerf.cameras import Camera, CameraSet
from stylizednerf.nerf.fields import HashEncoding
from stylizednerf.nerf.model import NerfModel, resolve_config
from stylizednerf.nerf.rays import SceneSpace, contract, ndc_rays
from stylizednerf.nerf.render import checkpoint_payload, load_nerf, render_cameras
from stylizednerf.nerf.rendering import composite, expected_parameter, median_value, render_weights
from stylizednerf.nerf.samplers import pdf_edges, uniform_edges
from stylizednerf.pinhole import camera_rays

TINY = {"device": "cpu", "seed": 0, "val_rays": 256, "val_every": 5, "log_every": 5, "checkpoint_every": 5,
        "render_chunk": 4096,
        "fast": {"iterations": 10, "batch_rays": 64, "levels": 4, "log2_table": 10, "base_resolution": 4,
                 "max_resolution": 32, "hidden": 16, "grid_resolution": 8, "grid_update_every": 4,
                 "coarse_samples": 16, "samples": 8, "lr_decay_steps": None}}


def _camera(c2w, width=8, height=6, f=10.0, near=2.0, far=10.0, file="0.png"):
    return Camera(file, width, height, f, f, width / 2, height / 2, np.asarray(c2w, dtype=np.float64), near, far)


def _camera_set(tmp_path=None, count=3, width=8, height=6):
    cams = []
    for i in range(count):
        c2w = np.eye(4)
        c2w[0, 3] = 0.2 * i  # a small sideways baseline, all looking down +z (OpenCV)
        cams.append(_camera(c2w, width, height, file=f"{i:03d}.png"))
    return CameraSet(cams, tmp_path if tmp_path is not None else ".", "forward")


def test_camera_rays_hand_computed():
    c2w = np.eye(4)
    c2w[:3, 3] = [1.0, 2.0, 3.0]
    cam = _camera(c2w, width=4, height=2, f=2.0)
    origins, dirs = camera_rays(cam)
    assert origins.shape == dirs.shape == (2, 4, 3)
    # pixel (u=0, v=0): centre (0.5, 0.5); (0.5 - 2)/2 = -0.75, (0.5 - 1)/2 = -0.25, z = 1
    assert torch.allclose(dirs[0, 0], torch.tensor([-0.75, -0.25, 1.0]))
    assert torch.allclose(dirs[1, 3], torch.tensor([0.75, 0.25, 1.0]))
    assert torch.allclose(origins[1, 2], torch.tensor([1.0, 2.0, 3.0]))


def test_ndc_rays_hand_computed():
    # camera at the origin looking down -z (OpenGL), near 1: ray (0.5, -0.25, -1) from the origin
    o = torch.tensor([[0.0, 0.0, 0.0]])
    d = torch.tensor([[0.5, -0.25, -1.0]])
    o_ndc, d_ndc = ndc_rays(o, d, ax=2.0, ay=3.0, near=1.0)
    # moved to z = -1: o = (0.5, -0.25, -1); o_ndc = (-ax ox/oz, -ay oy/oz, 1 + 2/oz)
    assert torch.allclose(o_ndc, torch.tensor([[1.0, -0.75, -1.0]]))
    # rays through the camera centre are parallel to the NDC z axis, d_z = -2 near / oz = 2
    assert torch.allclose(d_ndc, torch.tensor([[0.0, 0.0, 2.0]]))
    # an off-centre origin o = (1, 0, -2), d = (0, 0, -1) is moved back to (1, 0, -1):
    # o_ndc = (ax, 0, -1); at s = 1 (infinity) the point projects onto the axis: d = (-ax, 0, 2)
    o_ndc, d_ndc = ndc_rays(torch.tensor([[1.0, 0.0, -2.0]]), torch.tensor([[0.0, 0.0, -1.0]]), 2.0, 3.0, 1.0)
    assert torch.allclose(o_ndc, torch.tensor([[2.0, 0.0, -1.0]]))
    assert torch.allclose(d_ndc, torch.tensor([[-2.0, 0.0, 2.0]]))


def test_scene_space_forward_depth_roundtrip():
    cams = _camera_set()
    space = SceneSpace.from_cameras(cams)
    # LLFF normalisation: the average pose is the origin, min(near) becomes 1/0.75
    assert space.scale == pytest.approx(1.0 / (2.0 * 0.75))
    origins, dirs = camera_rays(cams.cameras[1])
    rays = space.rays(origins.reshape(-1, 3), dirs.reshape(-1, 3))
    # the NDC ray parameter s maps to world z-depth tau; s = 0 is the near plane z_scene = -1
    s = torch.tensor([0.0, 0.5, 0.9]).expand(rays.origins.shape[0], 3)
    tau = space.depth(rays, s)
    assert torch.allclose(tau[:, 0], torch.full_like(tau[:, 0], 1.0 / space.scale), atol=1e-5)
    # s = 0.5 is z_scene = -2 (twice the near plane), for every ray of a camera at scene z = 0
    assert torch.allclose(tau[:, 1], torch.full_like(tau[:, 1], 2.0 / space.scale), atol=1e-4)
    # the NDC point at s maps back onto the world ray at depth tau (NDC is a projective map)
    p_ndc = space.points(rays, s)[:, 2]
    z_scene = 2.0 / (p_ndc[:, 2] - 1.0)
    world = rays.origins + tau[:, 2:3] * rays.dirs
    m = torch.as_tensor(space.world_to_scene, dtype=torch.float32)
    scene = world @ m[:3, :3].T + m[:3, 3]
    assert torch.allclose(scene[:, 2], z_scene, rtol=1e-4)
    assert torch.allclose(scene[:, 0], -p_ndc[:, 0] * z_scene / space.ndc_ax, atol=1e-4)


def test_contraction():
    x = torch.tensor([[0.5, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, -4.0], [1e6, 0.0, 0.0]])
    y = contract(x)
    assert torch.allclose(y[0], x[0])
    assert torch.allclose(y[1], torch.tensor([1.5, 0.0, 0.0]))
    assert torch.allclose(y[2], torch.tensor([0.0, 0.0, -1.75]))
    assert y.norm(dim=-1).max() < 2.0


def test_median_value_is_where_half_of_the_mass_is_reached():
    # the same slab analytically: half of the opacity 1 - exp(-k) is reached at 1 + ln(2 / (1 + exp(-k))) / k
    sigma_value, n = 3.0, 4000
    edges = torch.linspace(0.0, 4.0, n + 1)[None]
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
    w = render_weights(torch.where((mids >= 1.0) & (mids < 2.0), sigma_value, 0.0), edges[:, 1:] - edges[:, :-1])
    k = sigma_value
    analytic = 1.0 + math.log(2.0 / (1.0 + math.exp(-k))) / k
    assert median_value(w, mids).item() == pytest.approx(analytic, abs=2e-3)
    assert abs(median_value(w, mids).item() - expected_parameter(w, edges).item()) > 0.05  # median is not mean
    # random rays against a ray-by-ray reference, and a ray without mass
    g = torch.Generator().manual_seed(0)
    weights = torch.rand(64, 24, generator=g) * (torch.rand(64, 24, generator=g) > 0.5)
    weights[3] = 0.0
    values = torch.cumsum(torch.rand(64, 24, generator=g), -1)
    got = median_value(weights, values)
    for ray in range(64):
        acc = weights[ray].sum()
        if acc <= 1e-6:
            expected = values[ray, -1]
        else:
            cum = torch.cumsum(weights[ray], 0)
            expected = values[ray, next(i for i in range(24) if cum[i] >= 0.5 * acc)]
        assert got[ray].item() == pytest.approx(expected.item()), ray


def test_weights_constant_density_slab():
    # density sigma on [1, 2] of a ray sampled on [0, 4]: opacity 1 - exp(-sigma), the expected
    # depth is the mean of the exponential distribution truncated to the slab
    sigma_value, n = 3.0, 4000
    edges = torch.linspace(0.0, 4.0, n + 1)[None]
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
    sigma = torch.where((mids >= 1.0) & (mids < 2.0), sigma_value, 0.0)
    w = render_weights(sigma, edges[:, 1:] - edges[:, :-1])
    assert (w >= 0).all() and w.sum() <= 1.0
    assert w.sum().item() == pytest.approx(1 - math.exp(-sigma_value), abs=1e-4)
    k = sigma_value
    analytic = 1.0 + (1.0 / k - math.exp(-k) * (1.0 + 1.0 / k)) / (1.0 - math.exp(-k))
    assert expected_parameter(w, edges).item() == pytest.approx(analytic, abs=2e-3)
    # compositing a constant colour gives opacity * colour + transmittance * background
    rgb = composite(w, torch.full((1, n, 3), 0.5), background=1.0)
    assert torch.allclose(rgb, torch.full((1, 3), 0.5 * (1 - math.exp(-k)) + math.exp(-k)), atol=1e-4)


def test_weights_sum_at_most_one_random():
    g = torch.Generator().manual_seed(0)
    sigma = torch.rand(64, 32, generator=g) * 50
    deltas = torch.rand(64, 32, generator=g)
    w = render_weights(sigma, deltas)
    assert (w >= 0).all()
    assert (w.sum(-1) <= 1.0 + 1e-6).all()
    assert w.sum(-1).max() > 0.99  # dense rays are opaque


def test_pdf_sampling_follows_histogram():
    edges = uniform_edges(1, 10, "cpu", jitter=False)
    weights = torch.zeros(1, 10)
    weights[0, 7] = 1.0
    new = pdf_edges(edges, weights, 20, jitter=False, uniform_fraction=0.0)
    assert torch.all(new[:, 1:] >= new[:, :-1])
    assert new[0, 0] == 0.0 and new[0, -1] == 1.0
    mids = 0.5 * (new[0, 1:] + new[0, :-1])
    assert ((mids >= 0.7) & (mids <= 0.8)).float().mean() > 0.85


def test_hash_encoding_dense_level_interpolates_table():
    enc = HashEncoding(levels=2, features=2, log2_table=12, base_res=4, max_res=8)
    with torch.no_grad():
        enc.table.copy_(torch.randn_like(enc.table))
    # level 0 has resolution 4, dense ((4+1)^3 <= 4096): the vertex (1, 2, 3)/4 reads one entry
    x = torch.tensor([[1 / 4, 2 / 4, 3 / 4]])
    out = enc(x)
    idx = 1 + 2 * 5 + 3 * 25
    assert torch.allclose(out[0, :2], enc.table[idx], atol=1e-5)
    # halfway between two vertices along x: the mean of both entries
    x = torch.tensor([[1.5 / 4, 2 / 4, 3 / 4]])
    assert torch.allclose(enc(x)[0, :2], 0.5 * (enc.table[idx] + enc.table[idx + 1]), atol=1e-5)


def _write_images(camera_set, seed=0):
    from PIL import Image

    rng = np.random.default_rng(seed)
    camera_set.image_dir.mkdir(parents=True, exist_ok=True)
    for cam in camera_set.cameras:
        Image.fromarray(rng.integers(0, 255, (cam.height, cam.width, 3), dtype=np.uint8)).save(
            camera_set.image_dir / cam.file)


def test_checkpoint_round_trip_and_render(tmp_path):
    space = SceneSpace.from_cameras(_camera_set())
    model = NerfModel(space, resolve_config(TINY))
    torch.save(checkpoint_payload(model), tmp_path / "model.pt")
    loaded = load_nerf(tmp_path / "model.pt")
    for (k, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items()):
        assert torch.equal(a, b), k
    cam = _camera_set().cameras[0]
    a = render_cameras(model, [cam])[0]
    b = render_cameras(loaded, [cam])[0]
    assert torch.equal(a["rgb"], b["rgb"]) and torch.equal(a["depth"], b["depth"])  # deterministic
    # points = unproject(pixel centre, depth): their z-depth in the camera is the depth
    assert torch.allclose(a["points"][..., 2] - cam.camera_to_world[2, 3], a["depth"], rtol=1e-4)
    geo = loaded.sample_geometry(*[t.reshape(-1, 3) for t in camera_rays(cam)])
    assert geo["features"].shape[-1] == loaded.feature_dim
    assert (geo["weights"].sum(-1) <= 1 + 1e-6).all()
    assert torch.allclose(geo["depth"], a["depth"].reshape(-1), rtol=1e-4)


def test_render_rays_median_depth_is_the_median_of_its_weights():
    # every ray crosses two layers: a semi-transparent front (alpha 0.6) and an opaque back. The
    # median depth sits on the front layer, the expected depth between the two layers.
    cameras = _camera_set()
    model = NerfModel(SceneSpace.from_cameras(cameras), resolve_config(TINY)).eval()
    front, back = 3, 6

    def two_layers(field, rays, edges):
        x = model.unit_points(rays, edges)
        deltas = model.space.deltas(rays, edges)
        sigma = torch.zeros(deltas.shape)
        sigma[:, front] = -math.log(0.4) / deltas[:, front]
        sigma[:, back] = 30.0 / deltas[:, back]
        return x, sigma, torch.zeros(*deltas.shape, 3)

    model._query = two_layers
    origins, dirs = [t.reshape(-1, 3) for t in camera_rays(cameras.cameras[0])]
    out = model.render_rays(origins, dirs)
    rays = model.scene_rays(origins, dirs)
    edges, _ = model.sample_edges(rays, jitter=False)
    weights = render_weights(two_layers(None, rays, edges)[1], model.space.deltas(rays, edges))
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
    expected = model.space.depth(rays, median_value(weights, mids)[:, None])[:, 0]
    assert out["median_depth"].shape == out["depth"].shape == (origins.shape[0],)
    assert torch.allclose(out["median_depth"], expected)
    front_depth = model.space.depth(rays, mids[:, front:front + 1])[:, 0]
    assert torch.allclose(out["median_depth"], front_depth)  # on the front layer
    assert ((out["depth"] - out["median_depth"]).abs() > 1e-3).all()  # the mean is not the median
    # render_camera gives it per pixel; the training step does not compute it
    assert torch.equal(render_cameras(model, [cameras.cameras[0]])[0]["median_depth"].reshape(-1),
                       out["median_depth"])
    assert "median_depth" not in model.render_rays(origins, dirs, training=True)


def test_training_resumes_from_checkpoint(tmp_path):
    from stylizednerf.nerf.train import Trainer

    cams = _camera_set(tmp_path / "images", count=4)
    _write_images(cams)
    settings = json.loads(json.dumps(TINY))
    ckpt = tmp_path / "ckpt"
    full = Trainer(cams, settings, checkpoint_dir=None, log=lambda m: None)
    full.train(progress=False)
    # a run interrupted after 5 steps (checkpoint_every = 5) and resumed gives the same weights
    first = Trainer(cams, {**settings, "fast": {**settings["fast"], "iterations": 10}}, checkpoint_dir=ckpt,
                    log=lambda m: None)
    first.iterations = 5
    first.train(progress=False)
    assert (ckpt / "last.pt").is_file()
    messages = []
    resumed = Trainer(cams, settings, checkpoint_dir=ckpt, log=messages.append)
    assert resumed.step == 5 and any("resumed" in m for m in messages)
    resumed.train(progress=False)
    assert resumed.step == 10
    for k, v in full.model.state_dict().items():
        assert torch.allclose(v, resumed.model.state_dict()[k], atol=1e-6), k
    # other settings: the checkpoint is ignored
    other = Trainer(cams, {**settings, "seed": 1}, checkpoint_dir=ckpt, log=messages.append)
    assert other.step == 0


def test_bad_input_one_line_errors(tmp_path):
    from stylizednerf.nerf.train import main

    with pytest.raises(SystemExit, match="error: .*missing.json"):
        main(["--cameras", str(tmp_path / "missing.json"), "--out", str(tmp_path / "out")])
    with pytest.raises(ValueError, match="unknown setting 'fast.nope'"):
        resolve_config({"fast": {"nope": 1}})


def test_density_activation_finite_under_bf16_for_huge_inputs():
    # exp overflows float32 above 88; an infinite density makes the transmittance NaN (inf - inf)
    from stylizednerf.nerf.fields import trunc_exp

    x = torch.tensor([0.0, 20.0, 100.0, 1e4], dtype=torch.bfloat16, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sigma = trunc_exp(x)
    assert sigma.dtype == torch.float32 and torch.isfinite(sigma).all()
    weights = render_weights(sigma[None], torch.full((1, 4), 0.1))
    assert torch.isfinite(weights).all() and weights.sum() <= 1.0 + 1e-6
    sigma.sum().backward()
    assert torch.isfinite(x.grad.float()).all() and (x.grad.float() > 0).all()  # can still be lowered


def test_rays_full_precision_under_autocast():
    # a matmul under bf16 autocast would round scene rays to 8 mantissa bits (pixels of NDC error)
    cams = _camera_set()
    space = SceneSpace.from_cameras(cams)
    origins, dirs = camera_rays(cams.cameras[2])
    origins, dirs = origins.reshape(-1, 3) + 0.123456, dirs.reshape(-1, 3)
    exact = space.rays(origins, dirs)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed = space.rays(origins, dirs)
    assert mixed.ndc_origins.dtype == torch.float32
    assert torch.allclose(mixed.ndc_origins, exact.ndc_origins, atol=1e-6)
    assert torch.allclose(mixed.ndc_dirs, exact.ndc_dirs, atol=1e-6)


def test_pdf_sampling_degenerate_histograms_stay_finite():
    # all-zero weights (empty grid) and huge weights must give sorted finite edges covering [0, 1]
    edges = uniform_edges(3, 16, "cpu", jitter=False)
    weights = torch.stack([torch.zeros(16), torch.full((16,), 1e30), torch.eye(16)[5] * 1e6])
    for jitter in (False, True):
        out = pdf_edges(edges, weights, 8, jitter, uniform_fraction=0.1)
        assert torch.isfinite(out).all()
        assert (out[:, 1:] >= out[:, :-1]).all()
        assert torch.allclose(out[:, 0], torch.zeros(3)) and torch.allclose(out[:, -1], torch.ones(3))


def test_density_grid_ignores_non_finite_densities():
    from stylizednerf.nerf.samplers import DensityGrid

    grid = DensityGrid(resolution=4, decay=0.5)
    grid.update(lambda x: torch.where(x[:, 0] > 0.5, torch.full_like(x[:, 0], float("inf")),
                                      torch.full_like(x[:, 0], float("nan"))))
    assert torch.isfinite(grid.density).all()
    assert torch.isfinite(grid.query(torch.rand(10, 3))).all()


def test_distortion_loss_matches_pairwise_definition_and_prefers_concentrated_weights():
    from stylizednerf.nerf.rendering import distortion_loss

    torch.manual_seed(0)
    edges = torch.sort(torch.rand(4, 9), -1).values
    w = torch.rand(4, 8) / 8
    mids = 0.5 * (edges[:, 1:] + edges[:, :-1])
    pair = (w[:, :, None] * w[:, None, :] * (mids[:, :, None] - mids[:, None, :]).abs()).sum((1, 2))
    direct = (pair + (w * w * (edges[:, 1:] - edges[:, :-1])).sum(-1) / 3).mean()
    assert distortion_loss(w, edges).item() == pytest.approx(direct.item(), rel=1e-5)
    even = torch.full((1, 8), 0.125)
    peak = torch.eye(8)[3:4]
    grid = uniform_edges(1, 8, "cpu", jitter=False)
    assert distortion_loss(peak, grid) < distortion_loss(even, grid)


def test_compiled_grid_update_falls_back_to_eager(capsys):
    """The grid update's compiled density: off on the CPU; a compiler failure falls back to the
    eager function once, with a note; out-of-memory is not swallowed."""
    from stylizednerf.nerf.compiled import MaybeCompiled, compile_wanted

    model = NerfModel(SceneSpace("forward", np.eye(4), 1.0), resolve_config({**TINY, "compile": True}))
    assert not compile_wanted(model, torch.device("cpu"))
    density = model._grid_density()
    assert density.compiled is None  # CPU: eager
    x = torch.rand(50, 3)
    assert torch.equal(density(x), model.field.density(x))

    def broken(*args):
        raise RuntimeError("backend exploded")

    wrapper = MaybeCompiled(model.field.density, enabled=False, name="the grid update")
    wrapper.compiled = broken
    assert torch.equal(wrapper(x), model.field.density(x))
    assert wrapper.compiled is None
    assert "torch.compile of the grid update failed (RuntimeError: backend exploded)" in capsys.readouterr().err

    def out_of_memory(*args):
        raise torch.cuda.OutOfMemoryError("no memory")

    wrapper.compiled = out_of_memory
    with pytest.raises(torch.cuda.OutOfMemoryError):
        wrapper(x)

    model.update_grid()  # through the wrapper, eager on the CPU
    assert model.grid.updates.item() == 1 and torch.isfinite(model.grid.density).all()


@pytest.mark.parametrize("levels,log2_table,base,top", [(6, 10, 4, 64), (3, 16, 4, 8), (4, 6, 8, 128)])
def test_hash_encoding_inference_lookup_matches_training_lookup(levels, log2_table, base, top):
    """Without gradients the encoding takes a leaner path (dense and hashed levels apart, one
    embedding_bag); it must give the same features as the differentiable one, for grids with
    dense and hashed levels, dense only and hashed only."""
    torch.manual_seed(0)
    enc = HashEncoding(levels, 2, log2_table, base, top)
    with torch.no_grad():
        enc.table.uniform_(-1.0, 1.0)
    x = torch.rand(3000, 3)
    x[:4] = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.25, 0.75], [1.0 - 1e-7, 0.0, 1.0]])
    with torch.no_grad():
        lean = enc(x)
    full = enc(x)  # gradients on: the training path
    assert full.requires_grad and not lean.requires_grad
    assert torch.allclose(lean, full.detach(), atol=1e-6)
    full.sum().backward()
    assert enc.table.grad is not None and enc.table.grad.abs().sum() > 0
    assert 0 <= enc.dense_levels <= levels


def _reference_hash_encoding(enc: HashEncoding, x: torch.Tensor) -> torch.Tensor:
    """Instant-NGP's lookup written out level by level and corner by corner in int64 (the products
    never wrap): what the int32 index arithmetic of both CPU paths must reproduce exactly."""
    from stylizednerf.nerf.fields import HASH_PRIMES

    x = x.float().clamp(0.0, 1.0 - 1e-6)
    table = enc.table.detach().double()
    out = []
    for level in range(enc.levels):
        res = float(enc.resolution[level])
        pos = x * enc.resolution[level]  # float32 like the module: the same cells and fractions
        base = pos.floor()
        frac = (pos - base).double()
        base = base.long()
        feature = torch.zeros(x.shape[0], enc.features, dtype=torch.float64)
        for corner in range(8):
            bits = torch.tensor([corner & 1, (corner >> 1) & 1, corner >> 2])
            c = base + bits
            if bool(enc.dense[level]):
                stride = int(res) + 1
                index = c[:, 0] + c[:, 1] * stride + c[:, 2] * stride * stride
            else:
                index = (c[:, 0] * HASH_PRIMES[0]) ^ (c[:, 1] * HASH_PRIMES[1]) ^ (c[:, 2] * HASH_PRIMES[2])
            index = (index % enc.table_size) + level * enc.table_size
            weight = torch.where(bits.bool(), frac, 1.0 - frac).prod(-1)
            feature += weight[:, None] * table[index]
        out.append(feature)
    return torch.cat(out, -1)


@pytest.mark.parametrize("levels,log2_table,base,top", [(16, 19, 16, 2048), (8, 15, 8, 256), (4, 6, 8, 128)])
def test_hash_encoding_int32_indices_match_an_int64_reference(levels, log2_table, base, top):
    """Both CPU lookups index the table with int32 arithmetic, where a hashed product wraps modulo
    2^32: the table mask must still read the same rows as Instant-NGP's hash in wide integers, on
    the GPU default grid (16 levels, 2^19 rows, resolution 2048) and the CPU demo's."""
    torch.manual_seed(0)
    enc = HashEncoding(levels, 2, log2_table, base, top)
    with torch.no_grad():
        enc.table.uniform_(-1.0, 1.0)
    x = torch.rand(2000, 3)
    x[:3] = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.999, 0.001, 0.9995]])
    reference = _reference_hash_encoding(enc, x).float()
    with torch.no_grad():
        lean = enc(x)
    full = enc(x)
    assert torch.allclose(lean, reference, atol=1e-5)
    assert torch.allclose(full.detach(), reference, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need CUDA")
def test_cuda_graph_steps_train_like_eager_steps(tmp_path):
    """The NeRF step recorded with stylizednerf.cuda_graph.capture_step trains like the eager step."""
    from stylizednerf.nerf.train import Trainer

    cams = _camera_set(tmp_path / "images", count=4)
    _write_images(cams)
    settings = json.loads(json.dumps(TINY))
    settings["device"] = "cuda"
    runs = {}
    for graph in (True, False):
        torch.manual_seed(0)
        trainer = Trainer(cams, {**settings, "cuda_graph": graph}, checkpoint_dir=None, log=lambda m: None)
        trainer.run_steps(20)
        assert (trainer.graph is not None) == graph
        runs[graph] = [p.detach().float().cpu() for p in trainer.model.parameters()]
    for p, q in zip(runs[True], runs[False]):
        torch.testing.assert_close(p, q, atol=1e-3, rtol=1e-2)
