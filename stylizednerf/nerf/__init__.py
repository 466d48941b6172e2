"""NeRF pre-training (stage ``pretrain-nerf``) and the render API the later stages use.

rays.py (cameras -> world rays; scene normalisation, NDC, contraction), fields.py (FastField hash
grid, MLPField = the paper's NeRF), samplers.py (stratified, inverse-CDF, density grid),
rendering.py (weights, compositing), model.py (NerfModel), train.py (Trainer + CLI),
render.py (load_nerf, render_cameras, sample_geometry contract), imagemetrics.py (PSNR, SSIM).
"""
