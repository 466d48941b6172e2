"""A camera path rendered to files: which cameras (the scene's spiral/orbit or a nerfstudio
``camera_path.json``), the frames and depth written while the next frames render, and the
path's camera files beside them. Used by ``render``, ``render-path`` and ``render-interpolation``.
"""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from stylizednerf.cameras import CameraSet, write_cameras
from stylizednerf.images import to_uint8
from stylizednerf.progress import progress_bar
from stylizednerf.settings import RenderSettings

# the schema's render section (the typed RenderSettings), without seed/device
RENDER_DEFAULTS = {k: v for k, v in RenderSettings().to_dict().items() if k not in ("seed", "device")}
DEPTH_PREVIEW_FRAMES = 4


def path_cameras(cameras: CameraSet, settings: dict, frames_dir, camera_path=None) -> CameraSet:
    """The cameras to render: the scene's spiral/orbit (``frames``, ``width``), or the nerfstudio
    ``camera_path`` file when one is given (its own frames and size)."""
    if camera_path:
        from stylizednerf.stylize.nerfstudio_path import read_camera_path

        return read_camera_path(camera_path, cameras, frames_dir)
    from stylizednerf.stylize.camera_path import render_path

    frames = int(settings.get("frames", RENDER_DEFAULTS["frames"]))
    width = settings.get("width") or None
    return render_path(cameras, frames, width, image_dir=frames_dir)



def write_path_files(folder: Path, path: CameraSet, fps: int) -> None:
    """The rendered path's cameras: ``cameras.json`` (this project's) and ``camera_path.json``
    (nerfstudio's, :mod:`stylizednerf.stylize.nerfstudio_path`)."""
    from stylizednerf.stylize.nerfstudio_path import write_camera_path

    write_cameras(folder / "cameras.json", path)
    write_camera_path(folder / "camera_path.json", path, fps)



def render_sequence(render_one, cameras: CameraSet, frames_dir: Path, depth_dir: Path,
                    median_depth_dir: Path | None = None, depth_video: Path | None = None,
                    fps: int = 15, depth_preview: bool = True) -> list[np.ndarray]:
    """Render every camera; PNG and depth files are written by a few threads while the next frames
    render (PNG compression of a frame costs more than rendering it on a GPU). Beside the depth
    folder, ``<depth folder>.png`` shows a few frames' depth (depth .npy files are for programs;
    ``depth_preview=False`` leaves the picture out);
    with ``depth_video``, every frame's depth is also a colour-mapped video there (one colour scale
    for the whole path, :func:`stylizednerf.depth_preview.depth_colors`) with its page.

    ``render_one(camera)`` gives ``(rgb, depth)``; with ``median_depth_dir`` it gives
    ``(rgb, depth, median_depth)`` and the median depth is written there as ``<stem>.npy`` too
    (the evaluation's second warp, stylizednerf.metrics.evaluate ``--median-depth``)."""
    from stylizednerf.depth_preview import depth_strip

    from PIL import Image

    frames_dir.mkdir(parents=True)
    depth_dir.mkdir(parents=True)
    if median_depth_dir is not None:
        median_depth_dir.mkdir(parents=True)

    def save(camera, image, depth, median_depth):
        # zlib level 1: half the time of the default level for ~5 % larger files (a rendered
        # frame's PNG took longer than rendering it on an H100)
        Image.fromarray(image).save(frames_dir / camera.file, compress_level=1)
        np.save(depth_dir / (Path(camera.file).stem + ".npy"), depth)
        if median_depth is not None:
            np.save(median_depth_dir / (Path(camera.file).stem + ".npy"), median_depth)

    images, previews, depths = [], {}, []
    picks = set(np.linspace(0, len(cameras) - 1, min(DEPTH_PREVIEW_FRAMES, len(cameras))).round().astype(int).tolist())
    with ThreadPoolExecutor(max_workers=4) as pool:
        pending = []
        for index, camera in enumerate(progress_bar(cameras.cameras, desc="render", unit="view")):
            rgb, depth, *median_depth = render_one(camera)
            image = to_uint8(rgb)
            depth = depth.float().cpu().numpy()
            median_depth = median_depth[0].float().cpu().numpy() if median_depth_dir is not None else None
            pending.append(pool.submit(save, camera, image, depth, median_depth))
            images.append(image)
            if index in picks:
                previews[index] = depth
            if depth_video is not None:
                depths.append(depth.astype(np.float16))  # half the memory; the colour map needs no more
        for future in pending:
            future.result()  # re-raises a failed write
    if depth_preview:
        Image.fromarray(depth_strip([previews[i] for i in sorted(previews)])).save(depth_dir.with_suffix(".png"))
    if depth_video is not None:
        from stylizednerf.depth_preview import depth_colors
        from stylizednerf.stylize.video import write_video

        write_video(depth_video, depth_colors([d.astype(np.float32) for d in depths]), fps,
                    title="NeRF depth (inverse depth, near is bright)")
    return images
