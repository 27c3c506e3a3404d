"""Learning the symmetries of images as neural vector fields on pixel coordinates (Ko, Kim, Lee, NeurIPS 2024),
scaled down to a CPU: handwritten digits instead of CIFAR-10, a small CNN instead of ResNet-18.

Pieces:

* :func:`load_digits_images`: scikit-learn's bundled 8 x 8 digits (1797 images, no download), upsampled
  bilinearly to size x size, scaled to [0, 1] (background 0, which is also the zero padding of the warp), split
  into seeded disjoint train / validation / test sets.
* :class:`SmallCNN`, :func:`train_classifier`, :func:`accuracy`: the classifier whose pooled features score
  validity (trained with :class:`symlie.utils.training.Trainer`, selected on the validation split, never on the
  test split).
* :class:`ImageSymmetryTask`: the seeded draws and the loss of one training step; :func:`learn_image_symmetries`
  trains the fields; :func:`compare_to_affine` compares them with Aff(2).

Coordinates are those of :func:`symlie.generators.validity.pixel_grid`: z = (x, y) in [-1, 1]^2, x the width
axis (left to right), y the height axis (top to bottom), pixel centres on the corners. A field V moves the pixel
grid by its flow phi_t (d z / dt = V(z)) and the transformed image is the bilinear sample of the image at the
moved grid, (T_t f)(p) = f(phi_t(p)) (zero outside the image), the pull-back, as in the original code.

One training step (:meth:`ImageSymmetryTask.loss`) on a batch of draws (image index, t):

1. the fields are normalised once per step to unit weighted RMS norm on the pixel grid,
   ||V||_w^2 = sum_p w(p) |V(p)|^2 with sum_p w(p) = 1 (``weight_map``; default a centred Gaussian of standard
   deviation 0.5 in [-1, 1] coordinates, the choice of generators.md 13 instead of Ko's Jacobian-based map),
   and held fixed during the integration (an autonomous flow, unlike the original's renormalisation at the
   moving points);
2. the pixel grid is moved by the flow of each field for the draw's t, by fixed-step RK4 with gradients through
   the solver (no adjoint), and each image is warped with the moved grid of each field. By default
   (``field_eval="grid"``) the flow integrates the bilinear interpolant of the fields evaluated once per step on
   the pixel grid extended by a margin, ~20x cheaper on a CPU than evaluating the network at every moving point
   (``field_eval="mlp"``, as the original's learning; the original's augmentation resamples grid values the
   same way);
3. validity S_i = batch mean of the angle arccos(cos(f(x), f(T_i x))) between the frozen features of the image
   and of its transform (cosine clamped to 1 - 1e-6, as :func:`symlie.generators.feature_validity`);
4. loss = w_validity mean_i S_i + w_ortho mean_i O_i + w_lipschitz mean_i Lip_i: the sequential arccos
   orthonormality of :func:`symlie.generators.losses.orthonormality_loss` in the weighted inner product on the
   grid, and the Lipschitz hinge of :func:`symlie.generators.losses.lipschitz_loss` over horizontally and
   vertically neighbouring pixels. Weights 1 / 10 / 10 as Ko's image runs. Ko sums the terms over the fields;
   the means here differ by the factor n, to which Adam is insensitive.

The draws (:meth:`ImageSymmetryTask.dataset`) fix everything a step depends on: the image and one flow time t
per draw, shared by the n fields, so the fields compete on the same transformation size. The original draws
one t ~ U(-sigma, sigma) per iteration for the whole batch; here t is drawn per draw, and by default from the
``t_levels`` midpoint levels +-sigma (k - 1/2) / K, k = 1..K, each sign and level equally likely (a quantised
U(-sigma, sigma)). With levels, each step integrates the pixel grid once per sign (states at all levels on the
way), so its cost does not grow with the batch; ``t_levels=None`` draws t ~ U(-sigma, sigma) continuously and
integrates one grid per draw (B times the flow cost).

The Lipschitz allowance ``lipschitz_tau`` is a slope in [-1, 1] coordinates (|dV| / |dz| between neighbouring
pixels): the original applies tau = 0.5 to the raw difference |dV| between neighbouring pixels of a 32 x 32
grid, ignoring the pixel spacing 2 / 31 (a quirk not reproduced, generators.md 10.8); the default 7.75 =
0.5 / (2 / 31) is the same allowance at 32 x 32 and keeps it at other sizes. (A slope of 0.5 would penalise every
normalised affine field except translations: their slopes are about 1.5 to 2.5.)
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from ..promote import ADMMPenalty
from ..utils.errors import SymlieError
from ..utils.validation import as_tensor, check_int, make_generator
from .analysis import affine_fields, gram_matrix, inner_products, projection_norms, span_angles
from .fields import GeneratorMLP
from .flows import flow
from .learn import GeneratorObjective
from .losses import lipschitz_loss, merge_weights, orthonormality_loss
from .validity import feature_validity, pixel_grid, warp_images

__all__ = ["ImageSplits", "load_digits_images", "SmallCNN", "train_classifier", "accuracy", "gaussian_weight_map",
           "ImageSymmetryTask", "learn_image_symmetries", "compare_to_affine", "IMAGE_WEIGHTS", "AFFINE_LABELS"]

DT = torch.float64
#: loss weights of Ko et al.'s image runs: validity 1, orthonormality 10, Lipschitz 10
IMAGE_WEIGHTS = {"validity": 1.0, "ortho": 10.0, "lipschitz": 10.0}
#: the affine basis of :func:`symlie.generators.affine_fields` for d = 2, in (x, y) pixel coordinates
AFFINE_LABELS = ("(1,0)", "(0,1)", "(x,0)", "(y,0)", "(0,x)", "(0,y)")
_COS_MAX = 1.0 - 1e-6
_HINT = "pip install 'symlie[images]'"
_N_DIGITS = 1797


# ------------------------------------------------------------------------------------------------- data
@dataclass(frozen=True)
class ImageSplits:
    """Disjoint splits of an image data set: ``train``, ``val``, ``test`` each an (images (N, C, H, W) float32,
    labels (N,) int64) pair; ``indices`` {split name: (N,) int64 positions in the source data set}."""

    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    test: tuple[torch.Tensor, torch.Tensor]
    indices: dict[str, torch.Tensor] = field(repr=False)


def _fraction_split(split: Any, n: int) -> tuple[int, int, int]:
    if isinstance(split, (str, bytes)) or not isinstance(split, Sequence) or len(split) != 3:
        raise ValueError(f"split: expected three fractions (train, val, test) summing to 1, got {split!r}")
    fr = []
    for name, v in zip(("train", "val", "test"), split):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not (math.isfinite(v) and v >= 0):
            raise ValueError(f"split: the {name} fraction must be a finite number >= 0, got {v!r}")
        fr.append(float(v))
    if abs(sum(fr) - 1.0) > 1e-6:
        raise ValueError(f"split: the fractions must sum to 1, got {tuple(fr)} (sum {sum(fr):.6g})")
    n_train = int(round(fr[0] * n))
    n_val = int(round((fr[0] + fr[1]) * n)) - n_train                  # cumulative rounding: the counts sum to n
    n_test = n - n_train - n_val
    if n_train < 1 or n_val < 1 or n_test < 0:
        raise ValueError(f"split: {tuple(fr)} of {n} images leaves an empty train or validation split")
    return n_train, n_val, n_test


def load_digits_images(size: int = 32, *, seed: int = 0, split: Sequence[float] = (0.6, 0.2, 0.2)) -> ImageSplits:
    """scikit-learn's bundled handwritten digits (1797 grey 8 x 8 images of 0..9, no download) as images.

    Args:
        size: output height = width; the 8 x 8 images are resampled by bilinear interpolation
            (``torch.nn.functional.interpolate``, ``align_corners=True``: the corner pixels stay on the corners,
            the convention of :func:`pixel_grid`). >= 4.
        seed: the seed of the split (a random permutation of the 1797 images).
        split: fractions (train, val, test), summing to 1; counts by cumulative rounding (they sum to 1797;
            train and val at least 1 each; (0.6, 0.2, 0.2): 1078 / 360 / 359).

    Returns:
        :class:`ImageSplits` of (images (N, 1, size, size) float32 in [0, 1] (the raw intensities 0..16 divided
        by 16, not standardised: background 0, as the zero padding of the warp), labels (N,) int64), disjoint,
        the same for the same seed.

    Raises:
        ImportError: scikit-learn is not installed (``pip install 'symlie[images]'``).
    """
    size = check_int(size, "size", 4)
    seed = check_int(seed, "seed", None)
    n_train, n_val, _ = _fraction_split(split, _N_DIGITS)
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise ImportError(f"load_digits_images: needs scikit-learn (its bundled digits data set); install it with "
                          f"{_HINT}") from exc
    d = load_digits()
    X = torch.as_tensor(d.images, dtype=torch.float32)[:, None] / 16.0         # (1797, 1, 8, 8) in [0, 1]
    y = torch.as_tensor(d.target, dtype=torch.int64)
    if size != X.shape[-1]:
        X = F.interpolate(X, size=(size, size), mode="bilinear", align_corners=True).clamp(0.0, 1.0)
    if X.shape[0] != _N_DIGITS:  # pragma: no cover - a different scikit-learn data set
        n_train, n_val, _ = _fraction_split(split, X.shape[0])
    perm = torch.randperm(X.shape[0], generator=make_generator(seed))
    idx = {"train": perm[:n_train], "val": perm[n_train:n_train + n_val], "test": perm[n_train + n_val:]}
    parts = {k: (X[v].contiguous(), y[v].contiguous()) for k, v in idx.items()}
    return ImageSplits(parts["train"], parts["val"], parts["test"], idx)


# ------------------------------------------------------------------------------------------------- classifier
class SmallCNN(nn.Module):
    """A small convnet: per entry c of ``channels`` a block conv 3 x 3 (padding 1) -> batch norm (optional) ->
    ReLU -> max-pool 2, then global average pooling (:meth:`features`, (N, channels[-1])) and a linear head
    (:meth:`forward`, logits (N, n_classes)). Input (N, in_channels, H, W) with H, W >= 2^len(channels).
    ``seed`` fixes the initialisation (None: torch's global state)."""

    def __init__(self, n_classes: int = 10, channels: Sequence[int] = (16, 32, 64), *, in_channels: int = 1,
                 batchnorm: bool = True, seed: int | None = 0):
        super().__init__()
        self.n_classes = check_int(n_classes, "n_classes", 2)
        self.in_channels = check_int(in_channels, "in_channels", 1)
        if isinstance(channels, (str, bytes)) or not isinstance(channels, Sequence) or len(channels) == 0:
            raise ValueError(f"channels: expected a non-empty sequence of ints (channels per block), got {channels!r}")
        self.channels = tuple(check_int(c, "channels", 1) for c in channels)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(check_int(seed, "seed", 0))
            layers: list[nn.Module] = []
            c_in = self.in_channels
            for c in self.channels:
                layers.append(nn.Conv2d(c_in, c, 3, padding=1, bias=not batchnorm))
                if batchnorm:
                    layers.append(nn.BatchNorm2d(c))
                layers += [nn.ReLU(), nn.MaxPool2d(2)]
                c_in = c
            self.body = nn.Sequential(*layers)
            self.head = nn.Linear(c_in, self.n_classes)

    @property
    def n_features(self) -> int:
        return self.channels[-1]

    def _check(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.ndim != 4 or x.shape[1] != self.in_channels:
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"x: expected images of shape (N, {self.in_channels}, H, W), got {got}")
        m = 2 ** len(self.channels)
        if x.shape[2] < m or x.shape[3] < m:
            raise ValueError(f"x: images of {x.shape[2]} x {x.shape[3]} are too small for {len(self.channels)} "
                             f"pooling blocks (need H, W >= {m})")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The globally average-pooled features (N, channels[-1]) of images x (N, in_channels, H, W)."""
        self._check(x)
        return self.body(x).mean((2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits (N, n_classes)."""
        return self.head(self.features(x))


class _Promoted(nn.Module):
    """The module the Trainer sees when training with a promotion split: the classifier and, as a submodule, the
    split (its Z, U buffers are then saved, restored and moved with the model)."""

    def __init__(self, model: nn.Module, promotion: ADMMPenalty):
        super().__init__()
        self.model = model
        self.promotion = promotion

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def _labelled(data: Any, name: str) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name}: expected a pair (images (N, C, H, W), labels (N,)), got {type(data).__name__}")
    X, y = data
    if not isinstance(X, torch.Tensor) or X.ndim != 4 or not X.is_floating_point():
        got = tuple(X.shape) if isinstance(X, torch.Tensor) else type(X).__name__
        raise ValueError(f"{name}: expected floating images of shape (N, C, H, W), got {got}")
    if not isinstance(y, torch.Tensor) or y.ndim != 1 or y.dtype != torch.int64 or y.shape[0] != X.shape[0]:
        got = f"{tuple(y.shape)} {y.dtype}" if isinstance(y, torch.Tensor) else type(y).__name__
        raise ValueError(f"{name}: expected int64 labels of shape ({X.shape[0]},), got {got}")
    if X.shape[0] == 0:
        raise ValueError(f"{name}: is empty")
    return X, y


def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 512) -> float:
    """Fraction of ``images`` (N, C, H, W) whose arg-max logit of ``model`` is ``labels`` (N,) int64; in eval
    mode and without gradients (the model's mode is restored)."""
    X, y = _labelled((images, labels), "images, labels")
    batch_size = check_int(batch_size, "batch_size", 1)
    dev = next(model.parameters()).device
    was = model.training
    model.eval()
    correct = 0
    try:
        with torch.no_grad():
            for k in range(0, X.shape[0], batch_size):
                out = model(X[k:k + batch_size].to(dev))
                correct += int((out.argmax(1).cpu() == y[k:k + batch_size]).sum())
    finally:
        model.train(was)
    return correct / X.shape[0]


def train_classifier(model: nn.Module, train: Any, val: Any, *, epochs: int = 15, lr: float = 1e-3,
                     batch_size: int = 64, weight_decay: float = 0.0, select: str = "accuracy", seed: int = 0,
                     device: Any = "cpu", checkpoint: Any = None, resume_from: Any = None, progress: bool = True,
                     log_fn: Callable | None = None, promotion: ADMMPenalty | None = None, scheduler: Any = None,
                     val_every: int = 1):
    """Train a classifier by cross-entropy with Adam (no augmentation: a flipped digit is not a digit), with
    :class:`symlie.utils.training.Trainer` (seeded batches, checkpoints, resume), keeping the epoch that is best
    on ``val``: ``select="accuracy"`` (the validation error 1 - accuracy, ``result.best_val``) or ``"loss"``
    (the mean validation cross-entropy). The test split is never an argument.

    Args:
        model: an ``nn.Module`` images (N, C, H, W) -> logits (N, classes) (e.g. :class:`SmallCNN`); trained in
            place and left in eval mode with the selected weights.
        train, val: (images (N, C, H, W) float, labels (N,) int64) pairs.
        promotion: an :class:`symlie.promote.ADMMPenalty` over the model's parameters (e.g.
            ``FieldCNN.promotion(sl.se(2), gamma=...)``): the loss becomes cross-entropy + penalty() (both logged)
            and update() runs after every optimizer step; its Z / U buffers are checkpointed with the model.
        scheduler, val_every: the Trainer's (a learning-rate schedule ``optimizer -> scheduler`` stepped per
            epoch; validate every so many epochs).

    Returns:
        the :class:`symlie.utils.training.TrainResult` (``history`` with the train loss and accuracy per epoch).
    """
    from ..utils.training import Trainer

    if not isinstance(model, nn.Module):
        raise TypeError(f"model: expected a torch.nn.Module, got {type(model).__name__}")
    train_t, val_t = _labelled(train, "train"), _labelled(val, "val")
    if select not in ("accuracy", "loss"):
        raise ValueError(f"select: expected 'accuracy' or 'loss', got {select!r}")
    for name, v in (("lr", lr), ("weight_decay", weight_decay)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0 or \
                (name == "lr" and v == 0):
            raise ValueError(f"{name}: expected a finite number {'> 0' if name == 'lr' else '>= 0'}, got {v!r}")

    if promotion is not None:
        ADMMPenalty.for_model(promotion, model)
    net = model if promotion is None else _Promoted(model, promotion)

    def loss_fn(m, batch):
        x, y = batch
        pen = promotion.penalty() if promotion is not None else None   # before the forward pass (ADMMPenalty)
        logits = m(x)
        ce = F.cross_entropy(logits, y)
        out = {"loss": ce, "accuracy": (logits.argmax(1) == y).float().mean().detach()}
        if pen is not None:
            out.update(loss=ce + pen, cross_entropy=ce.detach(), penalty=pen.detach())
        return out

    def val_fn(m, data) -> float:
        X, y = data
        if select == "accuracy":
            return 1.0 - accuracy(m, X, y)
        dev = next(m.parameters()).device
        tot = 0.0
        with torch.no_grad():
            for k in range(0, X.shape[0], 512):
                tot += float(F.cross_entropy(m(X[k:k + 512].to(dev)), y[k:k + 512].to(dev), reduction="sum"))
        return tot / X.shape[0]

    step_fn = (lambda step: promotion.update()) if promotion is not None else None
    trainer = Trainer(net, loss_fn, lambda p: torch.optim.Adam(p, lr=lr, weight_decay=weight_decay),
                      epochs=epochs, batch_size=batch_size, val_fn=val_fn, device=device, seed=seed,
                      checkpoint=checkpoint, progress=progress, log_fn=log_fn, step_fn=step_fn,
                      scheduler=scheduler, val_every=val_every)
    result = trainer.fit(train_t, val_data=val_t, resume_from=resume_from)
    model.eval()
    return result


# ------------------------------------------------------------------------------------------------- the task
def gaussian_weight_map(H: int, W: int, sigma: float = 0.5, *, dtype: torch.dtype = DT) -> torch.Tensor:
    """The centred Gaussian weight map (H, W), exp(-|p|^2 / (2 sigma^2)) at the pixel coordinates p of
    :func:`pixel_grid` ([-1, 1]^2), normalised to sum 1."""
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"sigma: expected a finite number > 0, got {sigma!r}")
    p = pixel_grid(H, W, dtype=DT)
    w = torch.exp(-(p ** 2).sum(-1) / (2.0 * float(sigma) ** 2))
    return (w / w.sum()).to(dtype)


class ImageSymmetryTask:
    """The data, draws and loss of learning the symmetries of images under a frozen feature map.

    Args:
        images: (N, C, H, W) floating images (e.g. :func:`load_digits_images`), kept on their device.
        feature_fn: the frozen features, a torch callable (M, C, H, W) -> (M, F) (e.g. ``cnn.features`` of a
            trained :class:`SmallCNN` in eval mode with ``requires_grad_(False)``); gradients must flow to its
            input.
        n_gen: number n of fields (8: the 6 of Aff(2) and 2 spare slots).
        n_draws: draws in :meth:`dataset` (default N: each image once); the images are taken without
            replacement, in passes over a seeded permutation.
        sigma: flow times |t| <= sigma (0.4, as the original).
        t_levels: K: t uniform on the 2K levels +-sigma (k - 1/2) / K (default 5), or None: t ~ U(-sigma, sigma)
            (the module docstring). One t per draw, shared by the n fields.
        flow_steps: RK4 steps over [0, sigma] (a step of at most sigma / flow_steps in t); with levels, at least
            one step between consecutive levels.
        weights: loss weights {"validity", "ortho", "lipschitz"} (default :data:`IMAGE_WEIGHTS`, 1 / 10 / 10).
        lipschitz_tau: the allowed slope |dV| / |dz| between neighbouring pixels (default 7.75, Ko's 0.5 per pixel
            at 32 x 32; see the module docstring).
        weight_map: (H, W) non-negative weights of the inner products and norms (normalised to sum 1); default
            :func:`gaussian_weight_map` with sigma 0.5. Not used by the validity score.
        field_eval: ``"grid"`` (default): the flows integrate the bilinear interpolant of the fields evaluated
            once per step on the pixel grid extended by ``field_margin`` ([-1, 1] units, default 0.5) on each side
            (the original resamples precomputed grid values this way in its augmentation; the interpolant of an
            affine field is exact on the extended grid); ``"mlp"``: the model at the moving points (as the
            original's learning; n B H W points per RK stage, ~20x slower on a CPU). See :meth:`fields`.
        seed: seed of the draws.
    """

    def __init__(self, images: Any, feature_fn: Callable[[torch.Tensor], torch.Tensor], *, n_gen: int = 8,
                 n_draws: int | None = None, sigma: float = 0.4, t_levels: int | None = 5, flow_steps: int = 5,
                 weights: dict | None = None, lipschitz_tau: float = 7.75, weight_map: Any = None,
                 field_eval: str = "grid", field_margin: float = 0.5, seed: int = 0):
        X = as_tensor(images, "images", ndim=4)
        if min(X.shape) == 0 or X.shape[2] < 2 or X.shape[3] < 2:
            raise ValueError(f"images: expected (N, C, H, W) with N, C >= 1 and H, W >= 2, got {tuple(X.shape)}")
        self.images = X
        N, _, H, W = X.shape
        self.shape = (H, W)
        self.validity = feature_validity(feature_fn)           # checks callable; used for its feature checks
        self.feature_fn = feature_fn
        self.n_gen = check_int(n_gen, "n_gen", 1)
        if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not (math.isfinite(sigma) and sigma > 0):
            raise ValueError(f"sigma: expected a finite number > 0, got {sigma!r}")
        self.sigma = float(sigma)
        self.t_levels = check_int(t_levels, "t_levels", 1, allow_none=True)
        self.flow_steps = check_int(flow_steps, "flow_steps", 1)
        self.weights = merge_weights(IMAGE_WEIGHTS, weights)
        if isinstance(lipschitz_tau, bool) or not isinstance(lipschitz_tau, (int, float)) or \
                not (math.isfinite(lipschitz_tau) and lipschitz_tau >= 0):
            raise ValueError(f"lipschitz_tau: expected a finite slope >= 0, got {lipschitz_tau!r}")
        self.lipschitz_tau = float(lipschitz_tau)
        if weight_map is None:
            wm = gaussian_weight_map(H, W)
        else:
            wm = as_tensor(weight_map, "weight_map", ndim=2, dtype=DT).cpu()
            if tuple(wm.shape) != (H, W):
                raise ValueError(f"weight_map: expected shape ({H}, {W}) (one weight per pixel), got {tuple(wm.shape)}")
            if bool((wm < 0).any()) or not float(wm.sum()) > 0:
                raise ValueError("weight_map: expected non-negative weights with a positive sum")
            wm = wm / wm.sum()
        self.weight_map = wm                                      # (H, W) float64, sum 1
        self.grid = pixel_grid(H, W)                              # (H, W, 2) float64
        self.points = self.grid.reshape(-1, 2)                    # (H W, 2)
        self.point_weights = wm.reshape(-1)                       # (H W,)
        if field_eval not in ("grid", "mlp"):
            raise ValueError(f"field_eval: expected 'grid' or 'mlp', got {field_eval!r}")
        self.field_eval = field_eval
        if isinstance(field_margin, bool) or not isinstance(field_margin, (int, float)) or \
                not (math.isfinite(field_margin) and field_margin >= 0):
            raise ValueError(f"field_margin: expected a finite number >= 0 (in [-1, 1] units), got {field_margin!r}")
        self.field_margin = float(field_margin)
        hy, hx = 2.0 / (H - 1), 2.0 / (W - 1)
        my, mx = math.ceil(self.field_margin / hy - 1e-9), math.ceil(self.field_margin / hx - 1e-9)
        self._margin = (my, mx)
        self._extent = torch.tensor([1.0 + mx * hx, 1.0 + my * hy], dtype=DT)      # half-widths in x, y
        ey, ex = float(self._extent[1]), float(self._extent[0])
        yy, xx = torch.meshgrid(torch.linspace(-ey, ey, H + 2 * my, dtype=DT),
                                torch.linspace(-ex, ex, W + 2 * mx, dtype=DT), indexing="ij")
        self._ext_points = torch.stack([xx, yy], -1).reshape(-1, 2)                # the extended grid, x first
        g = make_generator(check_int(seed, "seed", None))
        n_draws = N if n_draws is None else check_int(n_draws, "n_draws", 1)
        idx = torch.cat([torch.randperm(N, generator=g) for _ in range(-(-n_draws // N))])[:n_draws]
        if self.t_levels is None:
            t = self.sigma * (2 * torch.rand(n_draws, generator=g, dtype=DT) - 1)
        else:
            K = self.t_levels
            k = torch.randint(K, (n_draws,), generator=g)
            sign = torch.randint(2, (n_draws,), generator=g).to(DT) * 2 - 1
            t = sign * self.levels()[k]
        self._draws = TensorDataset(idx, t)

    # -- data ----------------------------------------------------------------------------------------
    def dataset(self) -> TensorDataset:
        """The seeded draws (image index (int64), flow time t (float64)), one row per draw."""
        return self._draws

    def levels(self) -> torch.Tensor:
        """The positive flow-time levels sigma (k - 1/2) / K, k = 1..K (float64; empty without levels)."""
        if self.t_levels is None:
            return torch.zeros(0, dtype=DT)
        K = self.t_levels
        return self.sigma * (torch.arange(1, K + 1, dtype=DT) - 0.5) / K

    def _batch(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
            raise ValueError("batch: expected (image indices (B,), flow times t (B,)) rows of task.dataset()")
        idx, t = batch
        idx = torch.as_tensor(idx).to(device=self.images.device, dtype=torch.long).reshape(-1)
        t = torch.as_tensor(t).to(DT).reshape(-1).cpu()
        if idx.shape != t.shape or idx.numel() == 0:
            raise ValueError(f"batch: expected as many flow times as image indices (>= 1), got {idx.numel()} and "
                             f"{t.numel()}")
        if bool((idx < 0).any()) or bool((idx >= self.images.shape[0]).any()):
            raise ValueError(f"batch: image indices must lie in [0, {self.images.shape[0]})")
        if bool((t.abs() > self.sigma * (1 + 1e-9)).any()):
            raise ValueError(f"batch: flow times must satisfy |t| <= sigma = {self.sigma}")
        return idx, t

    # -- transformations and validity ----------------------------------------------------------------
    def moved_grids(self, field: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor, n_fields: int, *,
                    dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
        """The pixel grid moved by the flow of each of ``n_fields`` fields for each time t (B,): (n, B, H, W, 2).

        ``field`` is an autonomous field z (n, ..., 2) -> (n, ..., 2) (field i on copy i; e.g.
        ``GeneratorMLP.field(scale)``); the flow is RK4 in ``dtype`` on ``device``, differentiable. With levels,
        every t must be one of +-:meth:`levels`."""
        H, W = self.shape
        n = check_int(n_fields, "n_fields", 1)
        t = torch.as_tensor(t, dtype=DT).reshape(-1).cpu()
        B, HW = t.shape[0], H * W
        z = self.points.to(device=device, dtype=dtype)
        if self.t_levels is None:
            z0 = z.reshape(1, 1, HW, 2).expand(n, B, HW, 2)
            s = t.to(device=device, dtype=dtype).reshape(1, B, 1)
            out = flow(field, z0, s, method="rk4", steps=self.flow_steps)          # (n, B, HW, 2)
            return out.reshape(n, B, H, W, 2)
        K = self.t_levels
        lev = self.levels()
        k = torch.round(t.abs() * K / self.sigma - 0.5).long().clamp(0, K - 1)
        if not torch.allclose(lev[k], t.abs(), rtol=0, atol=1e-6 * self.sigma):     # float32 times pass
            raise ValueError(f"t: with t_levels={K}, every flow time must be one of +-{lev.tolist()} (a draw of "
                             f"task.dataset()); build the task with t_levels=None for arbitrary times")
        sg = (t < 0).long()
        z0 = z.reshape(1, 1, HW, 2).expand(n, 2, HW, 2)                            # copy 0: +sigma, copy 1: -sigma
        s = torch.tensor([self.sigma, -self.sigma], dtype=dtype, device=device).reshape(1, 2, 1)
        marks = [(j + 0.5) / K for j in range(K)]
        states = flow(field, z0, s, method="rk4", steps=self.flow_steps, times=marks)   # (K, n, 2, HW, 2)
        moved = states[k.to(states.device), :, sg.to(states.device)]               # (B, n, HW, 2)
        return moved.permute(1, 0, 2, 3).reshape(n, B, H, W, 2)

    def transform(self, field: Callable[[torch.Tensor], torch.Tensor], batch, n_fields: int, *,
                  dtype: torch.dtype = torch.float32, device: Any = None) -> tuple[torch.Tensor, torch.Tensor]:
        """(the batch's images (B, C, H, W), their transforms (n, B, C, H, W) by the flow of each field for the
        draw's t): the pull-back f o phi_t, bilinear with zero padding."""
        idx, t = self._batch(batch)
        x = self.images[idx]
        dev = x.device if device is None else device
        x = x.to(dev)
        moved = self.moved_grids(field, t, n_fields, dtype=dtype, device=dev)         # (n, B, H, W, 2)
        n, B = moved.shape[:2]
        rep = x.unsqueeze(0).expand(n, *x.shape).reshape(n * B, *x.shape[1:])
        out = warp_images(rep, moved.reshape(n * B, *moved.shape[2:]))
        return x, out.reshape(n, B, *x.shape[1:])

    def field_validity(self, field: Callable[[torch.Tensor], torch.Tensor], batch, n_fields: int, *,
                       dtype: torch.dtype = torch.float32, device: Any = None) -> torch.Tensor:
        """The validity of each field (n,): the batch mean of the feature angle (radians) between each image and
        its transform (differentiable in the field's parameters)."""
        x, y = self.transform(field, batch, n_fields, dtype=dtype, device=device)
        n, B = y.shape[:2]
        with torch.no_grad():
            fx = self.validity.features(x, "images")                                 # (B, F)
        fy = self.validity.features(y.reshape(n * B, *y.shape[2:]), "transformed images")
        if fx.shape[1] != fy.shape[1]:
            raise SymlieError(f"feature_fn: {fx.shape[1]} features of the images but {fy.shape[1]} of the "
                              f"transformed images")
        fx = fx.unsqueeze(0).expand(n, *fx.shape).reshape(n * B, -1)
        cos = F.cosine_similarity(fx.to(DT), fy.to(DT), dim=1)                      # float64: the clamp at 1e-6
        ang = torch.arccos(cos.clamp(min=-_COS_MAX, max=_COS_MAX)).to(fy.dtype)
        return ang.reshape(n, B).mean(1)

    def affine_field(self, dtype: torch.dtype = DT) -> Callable[[torch.Tensor], torch.Tensor]:
        """The 6 affine basis fields (:data:`AFFINE_LABELS`), each scaled to unit weighted norm on the pixel grid,
        as an autonomous field z (6, ..., 2) -> (6, ..., 2) (for :meth:`field_validity` with n_fields=6)."""
        A = affine_fields(self.points)                                              # (6, HW, 2)
        norms = ((A ** 2).sum(-1) * self.point_weights).sum(-1).sqrt()              # (6,)
        M = torch.zeros(6, 2, 2, dtype=DT)                                          # v_i(z) = b_i + M_i z

        b = torch.zeros(6, 2, dtype=DT)
        b[0, 0] = b[1, 1] = 1.0
        M[2, 0, 0] = M[3, 0, 1] = M[4, 1, 0] = M[5, 1, 1] = 1.0
        M, b = M / norms[:, None, None], b / norms[:, None]

        def v(z: torch.Tensor) -> torch.Tensor:
            if z.shape[0] != 6 or z.shape[-1] != 2:
                raise ValueError(f"z: expected points of shape (6, ..., 2), got {tuple(z.shape)}")
            Mz, bz = M.to(device=z.device, dtype=z.dtype), b.to(device=z.device, dtype=z.dtype)
            flat = z.reshape(6, -1, 2)
            return (flat @ Mz.transpose(1, 2) + bz[:, None]).reshape(z.shape)

        return v

    # -- the loss ------------------------------------------------------------------------------------
    def _check_model(self, model: Any) -> None:
        if not isinstance(model, GeneratorMLP):
            raise TypeError(f"model: expected a symlie.generators.GeneratorMLP, got {type(model).__name__}")
        if model.n_in != 2 or model.n_gen != self.n_gen:
            raise ValueError(f"model: expected {self.n_gen} fields on R^2 (task.n_gen), got {model.n_gen} on "
                             f"R^{model.n_in}")

    def fields(self, model: GeneratorMLP) -> tuple[torch.Tensor, torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]:
        """(scales (n,), the normalised fields on the pixel grid (n, H, W, 2), the autonomous field the flows
        integrate), differentiable in the model's parameters, in the model's dtype and on its device.

        ``field_eval="grid"``: the model is evaluated once, on the pixel grid extended by ``field_margin`` on each
        side (the same spacing), and the flow integrates the bilinear interpolant of those values (constant
        beyond the extended grid); ``"mlp"``: the flow evaluates the model at the moving points
        (:meth:`GeneratorMLP.field`, head i on copy i), as the original, B H W n points per stage."""
        self._check_model(model)
        dev, dt = model.w1.device, model.dtype
        H, W = self.shape
        n = self.n_gen
        w = self.point_weights.to(device=dev, dtype=dt)
        if self.field_eval == "mlp":
            scale = model.scales(self.points.to(device=dev, dtype=dt), w)
            exact = model.field(scale)
            V = exact(self.points.to(device=dev, dtype=dt).unsqueeze(0).expand(n, -1, -1))
            return scale, V.reshape(n, H, W, 2), exact
        my, mx = self._margin
        He, We = H + 2 * my, W + 2 * mx
        Ve = model(self._ext_points.to(device=dev, dtype=dt)).permute(1, 0, 2).reshape(n, He, We, 2)
        Vp = Ve[:, my:my + H, mx:mx + W]
        scale = ((Vp ** 2).sum(-1).reshape(n, -1) * w).sum(-1).sqrt()               # = model.scales(points, w)
        inv = 1.0 / scale.clamp_min(1e-12)
        Ve = Ve * inv[:, None, None, None]
        table = Ve.permute(0, 3, 1, 2)                                              # (n, 2, He, We)
        ext = self._extent.to(device=dev, dtype=dt)

        def fld(z: torch.Tensor) -> torch.Tensor:
            if z.shape[0] != n or z.shape[-1] != 2:
                raise ValueError(f"z: expected points of shape ({n}, ..., 2), got {tuple(z.shape)}")
            u = (z / ext).reshape(n, -1, 1, 2)
            v = F.grid_sample(table, u, mode="bilinear", padding_mode="border", align_corners=True)  # (n, 2, M, 1)
            return v[..., 0].transpose(1, 2).reshape(z.shape)

        return scale, Ve[:, my:my + H, mx:mx + W], fld

    def loss(self, model: GeneratorMLP, batch) -> dict[str, torch.Tensor]:
        """The weighted loss and its terms (each a mean over the fields; 0-d tensors) for a batch of draws:
        {"loss", "validity", "ortho", "lipschitz"} (see the module docstring)."""
        _, V, fld = self.fields(model)
        dev, dt = model.w1.device, model.dtype
        S = self.field_validity(fld, batch, self.n_gen, dtype=dt, device=dev)        # (n,)
        z = self.grid.to(device=dev, dtype=dt)
        O = orthonormality_loss(V, self.weight_map.to(device=dev, dtype=dt))
        Lip = lipschitz_loss(V, z, axes=(1, 2), tau=self.lipschitz_tau)
        terms = {"validity": S.mean(), "ortho": O.mean(), "lipschitz": Lip.mean()}
        total = torch.stack([self.weights[k] * v for k, v in terms.items()]).sum()
        return {"loss": total, **terms}

    def validity_per_field(self, model: GeneratorMLP, batch) -> torch.Tensor:
        """The validity of each normalised field (n_gen,) on a batch of draws (no gradients)."""
        with torch.no_grad():
            fld = self.fields(model)[2]
            return self.field_validity(fld, batch, self.n_gen, dtype=model.dtype, device=model.w1.device)

    def __repr__(self) -> str:
        H, W = self.shape
        lv = "continuous" if self.t_levels is None else f"{2 * self.t_levels} levels"
        return (f"ImageSymmetryTask({self.images.shape[0]} images {H}x{W}, n_gen={self.n_gen}, "
                f"draws={len(self._draws)}, sigma={self.sigma}, t {lv}, flow_steps={self.flow_steps})")


# ------------------------------------------------------------------------------------------------- training
def learn_image_symmetries(task: ImageSymmetryTask, val_task: ImageSymmetryTask | None = None, *, width: int = 128,
                           head: int = 32, epochs: int = 30, batch_size: int = 32, lr: float = 1e-3,
                           lr_drop: float = 0.5, device: Any = "cpu", dtype: torch.dtype = torch.float32,
                           seed: int = 0, checkpoint: Any = None, resume_from: Any = None, progress: bool = True,
                           log_fn: Callable | None = None):
    """Train ``task.n_gen`` fields on ``task`` (Adam at ``lr``, x 0.1 after ``lr_drop`` of the epochs: 1e-3 ->
    1e-4 by default, as generators.md 13), selected on ``val_task`` (draws of other images, the same loss; the
    training task's own draws when None) with :class:`symlie.utils.training.Trainer` (seeded, progress,
    checkpoints, resume, data-parallel under torchrun through :class:`GeneratorObjective`).

    Returns (generators (:class:`GeneratorMLP`, n_in = 2, no periodic coordinate), scales (n_gen,) (the
    weighted RMS norms on the pixel grid), TrainResult).
    """
    from ..utils.training import Trainer

    if not isinstance(task, ImageSymmetryTask):
        raise TypeError(f"task: expected an ImageSymmetryTask, got {type(task).__name__}")
    if val_task is not None and not isinstance(val_task, ImageSymmetryTask):
        raise TypeError(f"val_task: expected an ImageSymmetryTask or None, got {type(val_task).__name__}")
    if val_task is not None and (val_task.n_gen != task.n_gen or val_task.shape != task.shape):
        raise ValueError(f"val_task: expected {task.n_gen} fields on {task.shape} images like task, got "
                         f"{val_task.n_gen} on {val_task.shape}")
    epochs = check_int(epochs, "epochs", 1)
    batch_size = check_int(batch_size, "batch_size", 1)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr: expected a finite number > 0, got {lr!r}")
    if isinstance(lr_drop, bool) or not isinstance(lr_drop, (int, float)) or not 0 < lr_drop <= 1:
        raise ValueError(f"lr_drop: expected a fraction of the epochs in (0, 1], got {lr_drop!r}")
    gen = GeneratorMLP(2, task.n_gen, width=width, head=head, dtype=dtype, seed=seed)
    obj = GeneratorObjective(gen, task)
    vt = val_task if val_task is not None else task

    def loss_fn(model, batch):
        return model(*batch)

    def val_fn(model, data) -> float:
        core = model.module.generators if hasattr(model, "module") else model.generators
        n = len(data)
        tot = 0.0
        with torch.no_grad():
            for k in range(0, n, batch_size):
                m = min(batch_size, n - k)
                tot += float(vt.loss(core, data[k:k + batch_size])["loss"]) * m
        return tot / max(n, 1)

    trainer = Trainer(obj, loss_fn, lambda p: torch.optim.Adam(p, lr=lr), epochs=epochs, batch_size=batch_size,
                      scheduler=lambda o: torch.optim.lr_scheduler.StepLR(o, max(1, int(lr_drop * epochs)), 0.1),
                      val_fn=val_fn, device=device, seed=seed, checkpoint=checkpoint, progress=progress,
                      log_fn=log_fn)
    result = trainer.fit(task.dataset(), val_data=vt.dataset(), resume_from=resume_from)
    with torch.no_grad():
        scales = gen.scales(task.points.to(device=gen.w1.device, dtype=gen.dtype),
                            task.point_weights.to(device=gen.w1.device, dtype=gen.dtype))
    return gen, scales, result


def compare_to_affine(generators: Any, scales: torch.Tensor | None, task: ImageSymmetryTask, *,
                      weight_map: Any = None) -> dict:
    """The learned fields against Aff(2) on the task's pixel grid, in the task's weighted inner product.

    Args:
        generators: a :class:`GeneratorMLP` (n_in = 2), a callable of pixel points (N, 2) float64 ->
            (N, G, 2), or field values (G, H W, 2) at ``task.points``.
        scales: (G,) norms to divide by, or None (every number below is of unit-norm fields, so scales only
            matter through their sign: none).
        task: gives the pixel grid and the weight map.
        weight_map: None (the task's), ``"uniform"``, or (H, W) non-negative weights to use instead (Ko report
            both their weighted and a uniform-weight analysis; smooth fields look affine where a centred weight
            map concentrates, so the uniform numbers are the stricter ones).

    Returns:
        dict with ``labels`` (:data:`AFFINE_LABELS`), ``projection`` (G,) the norm of each unit-norm field's
        orthogonal projection onto the 6-dimensional span of Aff(2) (1: affine, 0: orthogonal to every affine
        field), ``components`` (G, 6) the least-squares coefficients of each unit-norm field on the unit-norm
        affine basis (= the inner products when the basis is orthogonal, as for a centred symmetric weight map),
        ``gram`` (G, G) the cosine Gram matrix, ``rotation`` (G,) |cos| with the rotation (-y, x), and ``angles``
        the principal angles (radians) between the span of the first min(G, 6) fields and Aff(2); all float64.
    """
    if not isinstance(task, ImageSymmetryTask):
        raise TypeError(f"task: expected an ImageSymmetryTask, got {type(task).__name__}")
    P, w = task.points, task.point_weights
    if isinstance(weight_map, str):
        if weight_map != "uniform":
            raise ValueError(f"weight_map: expected None, 'uniform' or (H, W) weights, got {weight_map!r}")
        w = torch.full_like(w, 1.0 / w.shape[0])
    elif weight_map is not None:
        wm = as_tensor(weight_map, "weight_map", ndim=2, dtype=DT).cpu()
        if tuple(wm.shape) != task.shape or bool((wm < 0).any()) or not float(wm.sum()) > 0:
            raise ValueError(f"weight_map: expected non-negative weights of shape {task.shape} with a positive sum, "
                             f"got shape {tuple(wm.shape)}")
        w = (wm / wm.sum()).reshape(-1)
    with torch.no_grad():
        if isinstance(generators, GeneratorMLP):
            if generators.n_in != 2:
                raise ValueError(f"generators: expected fields on R^2, got R^{generators.n_in}")
            p = next(generators.parameters())
            L = generators(P.to(device=p.device, dtype=generators.dtype)).permute(1, 0, 2).to("cpu", DT)
        elif isinstance(generators, torch.Tensor):
            L = generators.detach().to("cpu", DT)
            if L.ndim != 3 or L.shape[1:] != P.shape:
                raise ValueError(f"generators: expected field values of shape (G, {P.shape[0]}, 2) at task.points, "
                                 f"got {tuple(L.shape)}")
        elif callable(generators):
            out = generators(P)
            if not isinstance(out, torch.Tensor) or out.ndim != 3 or out.shape[0] != P.shape[0] or out.shape[2] != 2:
                got = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise ValueError(f"generators: a callable must map pixel points ({P.shape[0]}, 2) to fields "
                                 f"({P.shape[0]}, G, 2), got {got}")
            L = out.permute(1, 0, 2).to("cpu", DT)
        else:
            raise TypeError(f"generators: expected a GeneratorMLP, a callable of pixel points or field values, got "
                            f"{type(generators).__name__}")
        if scales is not None:
            s = torch.as_tensor(scales).detach().to("cpu", DT).reshape(-1)
            if s.shape[0] != L.shape[0]:
                raise ValueError(f"scales: expected {L.shape[0]} values (one per field), got {s.shape[0]}")
            L = L / s[:, None, None]
    if not bool(torch.isfinite(L).all()):
        raise ValueError("generators: field values contain NaN or Inf")
    norm = lambda V: V / ((V ** 2).sum(-1) * w).sum(-1).clamp_min(1e-300).sqrt()[:, None, None]
    Ln = norm(L)
    A = norm(affine_fields(P))                                                     # (6, N, 2) unit norm
    GAA = inner_products(A, A, weights=w)
    GAL = inner_products(A, Ln, weights=w)                                         # (6, G)
    comps = torch.linalg.solve(GAA, GAL).T                                         # (G, 6)
    rot = torch.stack([-P[:, 1], P[:, 0]], -1)[None]
    k = min(L.shape[0], 6)
    return {"labels": list(AFFINE_LABELS), "projection": projection_norms(Ln, A, weights=w), "components": comps,
            "gram": gram_matrix(Ln, weights=w), "rotation": inner_products(Ln, norm(rot), weights=w)[:, 0].abs(),
            "angles": span_angles(Ln[:k], A, weights=w)}
