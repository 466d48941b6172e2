"""Stylized NeRF by 2D-3D mutual learning (METHOD.md sections 5-6).

* :mod:`.style_module`: the colour MLP on frozen per-sample geometry features + a style latent.
* :mod:`.latents`: one learned latent per (style, training view) and the prior term L_d.
* :mod:`.losses`: L_mimic and the masked multi-view consistency loss L_co.
* :mod:`.camera_path`: the smooth camera path (LLFF spiral, 360 orbit) rendered by ``render``.
* :mod:`.video`: MP4 writing.
* :mod:`.train`: the mutual (paper) and sequential (official code) training loops.
* :mod:`.cli`: the ``render-views``, ``stylize``, ``render`` and ``render-path`` stages.
"""
