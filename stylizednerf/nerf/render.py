"""Public API of the pre-trained NeRF, for the stages after ``pretrain-nerf``.

Load and render (everything in the cameras.json WORLD frame and units; the scene normalisation
and NDC are undone)::

    from stylizednerf.nerf.render import load_nerf, render_cameras
    model = load_nerf("results/demo/nerf/model.pt", device="cuda")
    views = render_cameras(model, read_cameras(path).cameras, chunk=65536)
    views[0]["rgb"]     # (H, W, 3) float32 in [0, 1], CPU
    views[0]["depth"]   # (H, W) z-depth in that camera (cameras.py convention)
    views[0]["points"]  # (H, W, 3) world points = pinhole.unproject(pixel_grid, depth, K, c2w)
    views[0]["acc"]     # (H, W) opacity
    views[0]["median_depth"]  # (H, W) median z-depth: where half of each ray's mass is reached

Rendering is deterministic (no jitter), chunked (``chunk`` rays at a time; outputs gathered on
the CPU), and runs under ``torch.no_grad`` with bf16 autocast on CUDA.

Frozen geometry for a style module (the stylized NeRF keeps density and sampling, only colour
changes)::

    origins, dirs = camera_rays(camera)                  # world rays, (H, W, 3) each
    geo = model.sample_geometry(origins.reshape(-1, 3), dirs.reshape(-1, 3))   # no_grad
    geo["weights"]    # (B, n) volume-rendering weights from the frozen density (sum <= 1)
    geo["features"]   # (B, n, model.feature_dim) per-sample geometry features: the hash-grid
                      #   encoding (field: fast) or NeRF's positional encoding (field: mlp);
                      #   they depend only on frozen parameters
    geo["positions"]  # (B, n, 3) sample positions in the field's unit cube (model space)
    geo["points"]     # (B, n, 3) the same samples in world coordinates
    geo["sample_depth"]  # (B, n) their world z-depths
    geo["depth"], geo["acc"]  # (B,) expected z-depth and opacity, as render_cameras gives
    geo["view_dirs"]  # (B, 3) unit directions in scene space
    rgb = composite(geo["weights"], style_mlp(geo["features"], latent), model.background)

``composite`` is stylizednerf.nerf.rendering.composite: sum_i w_i c_i + (1 - sum_i w_i) * bg.
Pass ``jitter=True`` to ``sample_geometry`` for stratified (training-time) sample positions.
"""

from pathlib import Path

import torch

from stylizednerf.cameras import Camera, CameraSet
from stylizednerf.nerf.model import NerfModel
from stylizednerf.nerf.rays import SceneSpace
from stylizednerf.nerf.rendering import composite  # noqa: F401  (re-exported for style modules)
from stylizednerf.pinhole import camera_rays
from stylizednerf.progress import progress_bar

FORMAT = "stylizednerf-nerf/1"


def checkpoint_payload(model: NerfModel, state_dict: dict | None = None, **extra) -> dict:
    """What model.pt holds: format tag, config, scene space and weights (torch.load weights_only-safe)."""
    state = state_dict if state_dict is not None else model.state_dict()
    return {"format": FORMAT, "config": model.cfg, "space": model.space.to_dict(),
            "state_dict": {k: v.detach().cpu() for k, v in state.items()}, **extra}


def model_from_payload(payload: dict, device="cpu", path="model.pt") -> NerfModel:
    """The NeRF of a model.pt payload; :class:`ModelFileError` naming ``path`` if it is not one."""
    from stylizednerf.model_files import ModelFileError, load_state

    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(path, f"not a NeRF model (no {FORMAT} tag; pretrain-nerf writes model.pt)")
    try:
        model = NerfModel(SceneSpace.from_dict(payload["space"]), payload["config"])
    except (KeyError, TypeError, ValueError) as error:
        raise ModelFileError(path, f"not a NeRF model (bad scene space or config: {error})") from None
    load_state(model, payload.get("state_dict"), path, "NeRF model")
    return model.to(device).eval()


def load_nerf(path, device="cpu") -> NerfModel:
    """The pre-trained NeRF in ``path`` (model.pt), in eval mode on ``device``; a missing, truncated
    or foreign file raises :class:`stylizednerf.model_files.ModelFileError` (a ValueError) naming it."""
    from stylizednerf.model_files import load_torch_file

    return model_from_payload(load_torch_file(path, "NeRF model"), device, Path(path))


@torch.no_grad()
def render_rays_chunked(model: NerfModel, origins: torch.Tensor, dirs: torch.Tensor, chunk: int = 65536) -> dict:
    """render_rays over (N, 3) world rays in chunks; results on the CPU, float32."""
    device = next(model.parameters()).device
    outs = {"rgb": [], "depth": [], "acc": [], "median_depth": []}
    for start in range(0, origins.shape[0], chunk):
        o = origins[start:start + chunk].to(device)
        d = dirs[start:start + chunk].to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out = model.render_rays(o, d, training=False)
        for key in outs:
            outs[key].append(out[key].float().cpu())
    return {key: torch.cat(value) for key, value in outs.items()}


@torch.no_grad()
def render_camera(model: NerfModel, camera: Camera, chunk: int = 65536) -> dict:
    origins, dirs = camera_rays(camera)
    h, w = camera.height, camera.width
    out = render_rays_chunked(model, origins.reshape(-1, 3), dirs.reshape(-1, 3), chunk)
    depth = out["depth"].reshape(h, w)
    points = origins + depth[..., None] * dirs
    return {"rgb": out["rgb"].reshape(h, w, 3).clamp(0.0, 1.0), "depth": depth, "points": points,
            "acc": out["acc"].reshape(h, w), "median_depth": out["median_depth"].reshape(h, w)}


def render_cameras(model: NerfModel, cameras, chunk: int = 65536, progress: bool = False) -> list[dict]:
    """Render every camera (a CameraSet or a list of Camera): a list of dicts, see module docstring."""
    if isinstance(cameras, CameraSet):
        cameras = cameras.cameras
    was_training = model.training
    model.eval()
    iterator = cameras
    if progress:
        iterator = progress_bar(cameras, desc="render", unit="view")
    try:
        return [render_camera(model, camera, chunk) for camera in iterator]
    finally:
        model.train(was_training)
