"""AdaIN's decoder: the mirror of VGG-19 up to relu4_1 (reflection padding, nearest upsampling).

relu4_1 features have 1/8 of the image's size (three 2x2 max-pools, which floor odd sizes), so
the decoder returns 8x the feature size. Images whose sides are not multiples of 8 are handled
by :func:`pad_to_multiple` / :func:`crop_to`: reflect-pad right and bottom up to the next
multiple of 8 before encoding, crop the decoded image back. Reflection (not zeros) keeps the
padded border looking like the image, so it does not shift the feature statistics; the padded
strip is at most 7 pixels and is cut away again.
"""

import torch
import torch.nn.functional as F
from torch import nn

MULTIPLE = 8
# (in, out) channels of each 3x3 conv; "up" = 2x nearest upsampling
ARCHITECTURE = ((512, 256), "up", (256, 256), (256, 256), (256, 256), (256, 128), "up",
                (128, 128), (128, 64), "up", (64, 64), (64, 3))


class Decoder(nn.Module):
    """relu4_1 features (B, 512, h, w) -> RGB (B, 3, 8h, 8w), roughly in [0, 1] (not clamped)."""

    def __init__(self):
        super().__init__()
        layers = []
        convs = [a for a in ARCHITECTURE if a != "up"]
        for item in ARCHITECTURE:
            if item == "up":
                layers.append(nn.Upsample(scale_factor=2, mode="nearest"))
                continue
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(item[0], item[1], kernel_size=3)]
            if item is not convs[-1]:
                layers.append(nn.ReLU(inplace=True))
        self.net = nn.Sequential(*layers)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return self.net(feats)


def pad_to_multiple(images: torch.Tensor, multiple: int = MULTIPLE) -> torch.Tensor:
    """Pad (B, C, H, W) right/bottom to multiples of ``multiple`` (reflect; replicate if too small)."""
    height, width = images.shape[-2:]
    pad_h, pad_w = -height % multiple, -width % multiple
    if pad_h == 0 and pad_w == 0:
        return images
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(images, (0, pad_w, 0, pad_h), mode=mode)


def crop_to(images: torch.Tensor, height: int, width: int) -> torch.Tensor:
    return images[..., :height, :width]


def load_decoder(path, map_location="cpu") -> Decoder:
    """A decoder from ``decoder.pt``: pre-trained (train_decoder: {'decoder': state_dict, 'iterations', ...})
    or fine-tuned for one style by a stylize job ({'decoder': state_dict, 'fine_tuned_for': style}).
    A missing, truncated or foreign file stops with one line naming it."""
    from stylizednerf.model_files import ModelFileError, load_state, load_torch_file

    try:
        state = load_torch_file(path, "decoder", map_location)
        if not isinstance(state, dict) or "decoder" not in state:
            raise ModelFileError(path, "not a decoder (no 'decoder' weights; pretrain-decoder writes decoder.pt)")
        decoder = Decoder()
        load_state(decoder, state["decoder"], path, "decoder")
    except ModelFileError as error:
        raise SystemExit(f"error: {error}") from None
    return decoder
