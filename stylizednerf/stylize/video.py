"""MP4 writing through imageio + imageio-ffmpeg (its bundled ffmpeg binary, no system ffmpeg).

Where imageio-ffmpeg is not installed (e.g. a GPU image whose packages we don't control),
OpenCV's VideoWriter (MPEG-4 Part 2) is used if OpenCV is there; otherwise a one-line error.

Beside each ``video.mp4``, ``video.html`` plays it: the Snakemake report shows HTML results in
the page (an iframe) but offers an MP4 only as a download, so the rules put the page in the
report. The MP4 is inside the page as a data URI, since the report keeps each result apart.
"""

import base64
import html
import importlib.util
from pathlib import Path

import numpy as np

from stylizednerf.fileio import atomic_path, atomic_write_text


def write_video(path, frames, fps: int = 30, title: str = "") -> None:
    """Write uint8 (H, W, 3) frames as an H.264 MP4, atomically, and its page (:func:`write_video_page`)."""
    path = Path(path)
    if importlib.util.find_spec("imageio_ffmpeg") is None:
        _write_video_opencv(path, frames, fps)
    else:
        _write_video_imageio(path, frames, fps)
    write_video_page(path, title)


def _write_video_imageio(path: Path, frames, fps: int) -> None:
    """H.264 with yuv420p needs even sizes; odd sizes are padded by repeating the last row/column
    (``macro_block_size=1`` keeps imageio from resizing, we pad ourselves so nothing is lost)."""
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


def write_video_page(video_path, title: str = "") -> Path:
    """``<video>.html`` beside an MP4: a page that plays it in a loop, the video inside it."""
    video_path = Path(video_path)
    page = video_path.with_suffix(".html")
    data = base64.b64encode(video_path.read_bytes()).decode("ascii")
    title = html.escape(title or video_path.stem)
    atomic_write_text(page, (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>" + title + "</title></head>\n"
        "<body style=\"margin:0;background:#111\">\n"
        "<video controls autoplay muted loop playsinline style=\"display:block;max-width:100%;margin:auto\"\n"
        "  src=\"data:video/mp4;base64," + data + "\"></video>\n</body></html>\n"))
    return page


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
