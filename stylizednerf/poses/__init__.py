"""Camera poses of a scene: SfM with pycolmap, or the poses a dataset ships (stage ``poses``).

Modules: ``images`` (checked, oriented, downscaled working copies), ``sfm`` (pycolmap),
``importers`` (LLFF / transforms.json / cameras.json), ``export`` (poses_bounds.npy,
transforms.json), ``accuracy`` (similarity alignment and pose errors), ``report`` (figure),
``cli`` (the stage).
"""
