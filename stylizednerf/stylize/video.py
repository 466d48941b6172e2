"""MP4 writing through imageio + imageio-ffmpeg (its bundled ffmpeg binary, no system ffmpeg).

Where imageio-ffmpeg is not installed (e.g. a GPU image whose packages we don't control),
OpenCV's VideoWriter (MPEG-4 Part 2) is used if OpenCV is there; otherwise a one-line error.
"""

import importlib.util
from pathlib import Path

import numpy as np

from stylizednerf.fileio import atomic_path


def write_video(path, frames, fps: int = 30) -> None:
    """Write uint8 (H, W, 3) frames as an H.264 MP4, atomically.

    H.264 with yuv420p needs even sizes; odd sizes are padded by repeating the last row/column
    (``macro_block_size=1`` keeps imageio from resizing, we pad ourselves so nothing is lost).
    """
    path = Path(path)
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        _write_video_opencv(path, frames, fps)
        return
    import imageio.v2 as imageio

    with atomic_path(path, suffix=".mp4") as tmp:
        writer = imageio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                    quality=8, pixelformat="yuv420p", macro_block_size=1)
        try:
            for frame in frames:
                frame = np.asarray(frame, dtype=np.uint8)
                pad_h, pad_w = frame.shape[0] % 2, frame.shape[1] % 2
                if pad_h or pad_w:
                    frame = np.pad(frame, ((0, pad_h), (0, pad_w), (0, 0)), mode="edge")
                writer.append_data(frame)
        finally:
            writer.close()


def _write_video_opencv(path: Path, frames, fps: int) -> None:
    try:
        import cv2
    except ImportError:
        raise SystemExit(f"error: cannot write {path}: install imageio-ffmpeg (or OpenCV)") from None
    with atomic_path(path, suffix=".mp4") as tmp:
        writer = None
        try:
            for frame in frames:
                frame = np.ascontiguousarray(np.asarray(frame, dtype=np.uint8)[..., ::-1])  # RGB -> BGR
                if writer is None:
                    size = (frame.shape[1], frame.shape[0])
                    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
                writer.write(frame)
        finally:
            if writer is not None:
                writer.release()


def read_video(path) -> np.ndarray:
    """All frames of a video as (N, H, W, 3) uint8 (for tests and checks)."""
    import imageio.v2 as imageio

    reader = imageio.get_reader(path, format="FFMPEG")
    try:
        return np.stack([np.asarray(f) for f in reader])
    finally:
        reader.close()
