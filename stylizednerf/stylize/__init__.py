"""Stylized NeRF by 2D-3D mutual learning (METHOD.md sections 5-6).

* :mod:`.field`: the pre-trained NeRF as frozen geometry (per-sample weights and features).
* :mod:`.style_module`: the colour MLP on frozen per-sample geometry features + a style latent
  (run per sample and volume-composited, or once per ray at its surface point: ``shading``).
* :mod:`.latents`: one learned latent per (style, training view) and the prior term L_d.
* :mod:`.losses`: L_mimic and the masked multi-view consistency loss L_co.
* :mod:`.ray_cache`, :mod:`.patches`, :mod:`.view_pairs`: the training views' frozen samples, the
  3D style term's patches and the 3D consistency term's pixel pairs.
* :mod:`.camera_path`: the smooth camera path (LLFF spiral, 360 orbit) rendered by ``render``.
* :mod:`.video`: MP4 writing.
* :mod:`.train`: the mutual (paper) and sequential (official code) training loops.
* :mod:`.joint`: one style module for a scene's whole style set, and style interpolation.
* :mod:`.inputs`, :mod:`.training_checkpoint`, :mod:`.renderer`, :mod:`.path_frames`: what the
  stages share: reading their inputs, resumable checkpoints, rendering a trained model file,
  writing a rendered camera path.
* :mod:`.cli`, :mod:`.joint_cli`: the ``render-views``, ``stylize``, ``render``, ``render-path``,
  ``stylize-joint`` and ``render-interpolation`` stages.
"""
