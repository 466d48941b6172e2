"""Variants of the stylize decoder step (AdaIN decoder + VGG encoder, forward and backward).

The decoder fine-tuning step is the largest part of a ``stylize`` job. This times the same step
(decoder on 4 AdaIN targets, VGG features of the output, content + style losses, backward, Adam)
on random inputs of a given size under a few implementation variants, so that the choice is
measured (BENCHMARKS.md, issue 6: the decoder as built won):

* ``base``: the decoder as built (``nn.ReflectionPad2d``), NCHW, bf16 autocast;
* ``benchmark``: + ``torch.backends.cudnn.benchmark``;
* ``catpad``: reflection padding built from slices and ``cat`` (its backward is plain copies,
  where ``ReflectionPad2d``'s backward scatters with atomics);
* ``channels_last``: NHWC tensors and weights;
* combinations of those.

    python bench/decoder_step.py --out results/bench/decoder_step          # GPU, fern size
    python bench/decoder_step.py --height 64 --width 96 --steps 2 --out /tmp/ds   # CPU check

Writes ``<out>/decoder_step.json`` (ms per step per variant) and ``<out>/decoder_step_<variant>.txt``
(torch.profiler tables of the first and the fastest variant).
"""

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import stylizednerf  # noqa: E402,F401
from stylizednerf.stylization2d.decoder import Decoder  # noqa: E402
from stylizednerf.stylization2d.losses import content_loss, style_loss  # noqa: E402
from stylizednerf.stylization2d.vgg import VGGEncoder  # noqa: E402

VARIANTS = {
    "base": {},
    "benchmark": {"benchmark": True},
    "catpad": {"pad": "cat"},
    "catpad+benchmark": {"pad": "cat", "benchmark": True},
    "benchmark+channels_last": {"benchmark": True, "channels_last": True},
    "catpad+benchmark+channels_last": {"pad": "cat", "benchmark": True, "channels_last": True},
}


class ReflectionPadByCat(nn.Module):
    """``nn.ReflectionPad2d(1)`` from slices and ``cat``: its backward is plain copies, where aten's
    scatter-adds with atomics."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x[..., 1:2, :], x, x[..., -2:-1, :]], dim=-2)
        return torch.cat([x[..., 1:2], x, x[..., -2:-1]], dim=-1)


def build(variant: dict, device):
    decoder = Decoder()
    if variant.get("pad") == "cat":
        for i, module in enumerate(decoder.net):
            if isinstance(module, nn.ReflectionPad2d):
                decoder.net[i] = ReflectionPadByCat()
    encoder = VGGEncoder().requires_grad_(False)
    decoder, encoder = decoder.to(device), encoder.to(device)
    if variant.get("channels_last"):
        decoder, encoder = decoder.to(memory_format=torch.channels_last), encoder.to(memory_format=torch.channels_last)
    return decoder, encoder


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--height", type=int, default=384, help="padded view height (fern: 378 -> 384)")
    parser.add_argument("--width", type=int, default=504)
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS))
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.type == "cuda"
    g = torch.Generator().manual_seed(0)
    style_img = torch.rand(1, 3, 256, 256, generator=g).to(device)
    target = torch.rand(args.batch, 512, args.height // 8, args.width // 8, generator=g).to(device)
    report = {"device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
              "batch": args.batch, "size": [args.width, args.height], "ms": {}}
    tables = {}
    for name in args.variants:
        variant = VARIANTS[name]
        torch.backends.cudnn.benchmark = bool(variant.get("benchmark"))
        decoder, encoder = build(variant, device)
        with torch.no_grad():
            style_feats = encoder.features(style_img)
        opt = torch.optim.Adam(decoder.parameters(), lr=1e-4)
        x = target.to(memory_format=torch.channels_last) if variant.get("channels_last") else target

        def step():
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                full = decoder(x)
                feats = encoder.features(full)
            loss = content_loss(feats[-1], x) + 10.0 * style_loss(feats, style_feats) + full.float().square().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

        for _ in range(3):
            step()
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(args.steps):
            step()
        if cuda:
            torch.cuda.synchronize()
        report["ms"][name] = round(1000 * (time.perf_counter() - start) / args.steps, 2)
        print(f"{name}: {report['ms'][name]} ms", flush=True)
        from torch.profiler import ProfilerActivity, profile

        acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
        with profile(activities=acts) as prof:
            for _ in range(3):
                step()
            if cuda:
                torch.cuda.synchronize()
        tables[name] = prof.key_averages().table(sort_by="cuda_time_total" if cuda else "cpu_time_total",
                                                 row_limit=25, max_name_column_width=60)
    torch.backends.cudnn.benchmark = False
    best = min(report["ms"], key=report["ms"].get)
    report["best"] = best
    for name in {args.variants[0], best}:
        (out / f"decoder_step_{name.replace('+', '_')}.txt").write_text(tables[name])
    (out / "decoder_step.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
