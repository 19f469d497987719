"""Multimedia's patch loss ``patch`` (report section 4.2, eq. 1).

Eq. 1 weights the absolute error of every pixel by a per-patch factor::

    L_P = sum_i exp(mean(y_pi - y'_pi)^-1 + var(y_pi - y'_pi)^-1) * |y - y'|

where ``y_pi - y'_pi`` is the difference on patch ``i`` (all channels of a ``patch_size`` square).
Taken literally the exponent is infinite on any patch the network gets right (``var = 0``) and
``exp`` overflows float32 once it passes ~88, so this implementation keeps the formula's shape and
adds the two guards it needs to be trainable, both documented options:

* ``eps`` in each inverse: ``1 / (|mean| + eps) + 1 / (var + eps)``; ``|mean|`` because a signed mean
  would give negative exponents for dark-biased patches and let the two signs cancel.
* ``normalize=True`` (default): weights ``P * softmax_i(exponent)`` over the ``P`` patches of each
  image (mean weight 1; softmax is exactly ``exp(s_i) / sum_j exp(s_j)``, computed stably), so only the
  *relative* weights of eq. 1 are kept. ``normalize=False`` uses ``exp(exponent)`` itself and raises if
  it overflows (raise ``eps``).

With ``form="direct"`` the exponent is ``|mean| + var`` instead (weights grow with the patch error, as the
prose of 4.2 describes) -- an alternative reading, not eq. 1. The sum over pixels is a mean here
(resolution-independent). Partial patches at the right/bottom border are dropped.

>>> import torch
>>> from isplab.losses import create_loss
>>> x = torch.rand(1, 3, 16, 16)
>>> float(create_loss("patch")(x, x))
0.0
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from isplab.errors import IsplabError
from isplab.losses.registry import check_pair, register_loss


def patch_stats(diff: Tensor, size: int) -> tuple[Tensor, Tensor, Tensor]:
    """Split ``diff`` ``(N, C, H, W)`` into ``size`` squares.

    Returns ``(patches (N, P, C*size*size), mean (N, P), var (N, P))``.

    ``var`` is the population variance over each patch's pixels and channels.
    """
    n, c, h, w = diff.shape
    gh, gw = h // size, w // size
    cells = diff[..., : gh * size, : gw * size].reshape(n, c, gh, size, gw, size)
    cells = cells.permute(0, 2, 4, 1, 3, 5).reshape(n, gh * gw, c * size * size)
    return cells, cells.mean(dim=-1), cells.var(dim=-1, unbiased=False)


@register_loss("patch")
class PatchLoss(nn.Module):
    """Multimedia patch loss (report eq. 1): |error| weighted per patch by exp(1/mean + 1/var) of the error."""

    def __init__(
        self, patch_size: int = 8, eps: float = 0.1, normalize: bool = True, form: str = "eq1",
        detach_weight: bool = False,
    ) -> None:
        super().__init__()
        if patch_size < 1 or eps <= 0:
            raise IsplabError(f"patch loss needs patch_size >= 1 and eps > 0, got {patch_size}, {eps}")
        if form not in ("eq1", "direct"):
            raise IsplabError(f"patch loss form must be 'eq1' or 'direct', got {form!r}")
        self.patch_size, self.eps, self.normalize = patch_size, float(eps), normalize
        self.form, self.detach_weight = form, detach_weight

    def exponent(self, mean: Tensor, var: Tensor) -> Tensor:
        """Per-patch exponent ``(N, P)`` from the patch mean and variance of the error."""
        if self.form == "direct":
            return mean.abs() + var
        return 1.0 / (mean.abs() + self.eps) + 1.0 / (var + self.eps)

    def forward(self, pred: Tensor, target: Tensor) -> Tensor:
        check_pair(pred, target)
        if min(pred.shape[-2:]) < self.patch_size:
            raise IsplabError(
                f"patch loss: image {tuple(pred.shape[-2:])} is smaller than patch_size {self.patch_size}"
            )
        cells, mean, var = patch_stats(pred - target, self.patch_size)
        s = self.exponent(mean, var)
        if self.normalize:
            weight = s.shape[1] * torch.softmax(s, dim=1)
        else:
            weight = torch.exp(s)
            if not torch.isfinite(weight).all():
                raise IsplabError(
                    f"patch loss: exp(1/mean + 1/var) overflowed {pred.dtype} (max exponent {s.max().item():.3g}); "
                    f"raise eps (now {self.eps}) or set normalize: true"
                )
        if self.detach_weight:
            weight = weight.detach()
        return (weight.unsqueeze(-1) * cells.abs()).mean()

    def extra_repr(self) -> str:
        return (
            f"patch_size={self.patch_size}, eps={self.eps}, normalize={self.normalize}, form={self.form!r}, "
            f"detach_weight={self.detach_weight}"
        )
