"""The trained stylized NeRF for rendering: a ``stylize``, ``stylize-joint`` or ``arf`` job's
model file read back (its style module and latents), and rendered camera by camera on the frozen
geometry of the pre-trained NeRF (:class:`StyleRenderer`).
"""

import torch

from stylizednerf.stylize.rays import image_rays
from stylizednerf.stylize.style_module import StyleModule, render_samples


def load_style_module(state: dict, device="cpu") -> StyleModule:
    """The style module of a model file's ``state``, in eval mode on ``device``; a file written
    before a setting existed gets the module it was trained as (its default: volume shading)."""
    module = StyleModule(state["feature_dim"], state["latent_dim"], state["hidden"], state["layers"],
                         state.get("encoding"), state.get("geometry_features", True), state.get("shading", "volume"))
    module.load_state_dict(state["style_module"])
    return module.to(device).eval()


def load_style_model(path, device, what: str = "stylize model"):
    """``(state, style module)`` of a stylize or stylize-joint job's model.pt; SystemExit with one
    line naming the file when it is missing, truncated or another kind of file."""
    from stylizednerf.model_files import ModelFileError, load_torch_file

    try:
        state = load_torch_file(path, what)
        if not isinstance(state, dict) or "style_module" not in state or "mu" not in state:
            raise ModelFileError(path, f"not a {what} (no style module and latents)")
        try:
            module = load_style_module(state, device)
        except (KeyError, TypeError, ValueError, RuntimeError) as error:
            first = str(error).strip().splitlines()[0][:120] if str(error).strip() else type(error).__name__
            raise ModelFileError(path, f"not a {what} (its style module does not load: {first})") from None
    except ModelFileError as error:
        raise SystemExit(f"error: {error}") from None
    return state, module


class StyleRenderer:
    """The stylized NeRF for rendering: frozen geometry + a trained style module."""

    def __init__(self, field, module, state: dict, chunk: int, device):
        self.field, self.module, self.chunk, self.device = field, module, chunk, torch.device(device)
        self.background = state.get("background")
        # a linear map of the rendered colours (the ARF baseline's post colour transfer), or None
        self.color_transform = None
        if state.get("color_transform") is not None:
            from stylizednerf.arf.color_transfer import ColorTransfer

            self.color_transform = ColorTransfer.from_dict(state["color_transform"])

    @torch.no_grad()
    def render(self, camera, latent) -> tuple[torch.Tensor, torch.Tensor]:
        K = torch.tensor(camera.intrinsics, dtype=torch.float32, device=self.device)
        c2w = torch.tensor(camera.camera_to_world, dtype=torch.float32, device=self.device)
        origins, directions = image_rays(K, c2w, camera.height, camera.width)
        rgbs, depths = [], []
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        for start in range(0, origins.shape[0], self.chunk):
            sl = slice(start, start + self.chunk)
            samples = self.field.sample(origins[sl], directions[sl])
            with autocast:
                rgb = render_samples(self.module, samples.weights, samples.features,
                                     latent, background=self.background, positions=samples.positions)
            rgbs.append(rgb.float())
            depths.append(samples.depth.float())
        H, W = camera.height, camera.width
        rgb = torch.cat(rgbs)
        if self.color_transform is not None:
            rgb = self.color_transform.apply(rgb)
        return rgb.reshape(H, W, 3).clamp(0, 1), torch.cat(depths).reshape(H, W)
