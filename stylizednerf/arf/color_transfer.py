"""ARF's colour transfer: a linear map that gives a set of colours the style image's mean and
covariance.

As ARF-svox2's ``match_colors_for_image_set`` (``opt/nnfm_loss.py``): with the colour
covariances C_c (content) and C_s (style), ``A = C_s^(1/2) C_c^(-1/2)`` (symmetric square roots
from the eigen-decompositions; ARF takes SVDs of the same symmetric matrices, eigenvalues
clamped to [1e-8, 1e8]) and ``b = mu_s - A mu_c``; ``x -> A x + b``. The transformed colours
have exactly the style's mean and covariance (before ARF's clamp to [0, 1]).

ARF applies it twice (``opt_style.py``): before stylization to the training images and the
grid's colours (pre-CT), and after it, fitted anew from the stylized renderings of the training
views to the style (post-CT). :meth:`ColorTransfer.invert` undoes one (tests; and a caller that
wants the original palette back), which ARF's code never needs.
"""

from dataclasses import dataclass

import torch

EIGEN_CLAMP = (1e-8, 1e8)


@dataclass(frozen=True)
class ColorTransfer:
    matrix: torch.Tensor  # (3, 3)
    offset: torch.Tensor  # (3,)

    @classmethod
    def fit(cls, content: torch.Tensor, style: torch.Tensor) -> "ColorTransfer":
        """The map taking the colours ``content`` (..., 3) to the mean and covariance of ``style`` (..., 3)."""
        content, style = content.reshape(-1, 3).double(), style.reshape(-1, 3).double()
        mu_c, mu_s = content.mean(0), style.mean(0)
        cov_c = (content - mu_c).T @ (content - mu_c) / content.shape[0]
        cov_s = (style - mu_s).T @ (style - mu_s) / style.shape[0]
        matrix = _matrix_power(cov_s, 0.5) @ _matrix_power(cov_c, -0.5)
        offset = mu_s - matrix @ mu_c
        return cls(matrix.float(), offset.float())

    def apply(self, colours: torch.Tensor, clamp: bool = False) -> torch.Tensor:
        """``A x + b`` of colours (..., 3) (clamped to [0, 1] when asked, as ARF's training images are)."""
        out = colours @ self.matrix.to(colours).T + self.offset.to(colours)
        return out.clamp(0.0, 1.0) if clamp else out

    def invert(self, colours: torch.Tensor) -> torch.Tensor:
        """The colours (..., 3) that :meth:`apply` (unclamped) maps to ``colours``."""
        inverse = torch.linalg.inv(self.matrix.double()).to(colours)
        return (colours - self.offset.to(colours)) @ inverse.T

    def to_dict(self) -> dict:
        return {"matrix": self.matrix.tolist(), "offset": self.offset.tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> "ColorTransfer":
        return cls(torch.tensor(values["matrix"], dtype=torch.float32), torch.tensor(values["offset"], dtype=torch.float32))

    @classmethod
    def identity(cls) -> "ColorTransfer":
        return cls(torch.eye(3), torch.zeros(3))


def _matrix_power(symmetric: torch.Tensor, power: float) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(symmetric)
    return vectors @ torch.diag(values.clamp(*EIGEN_CLAMP) ** power) @ vectors.T
