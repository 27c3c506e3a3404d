"""Linear-in-parameter estimators with enforced or promoted symmetry (scikit-learn conventions), and
discovery from data (a model is fitted first, then :func:`symlie.discover`)."""
from .data import discover_data, fit_mlp
from .regression import SymmetricRegressor
from .sindy import SymmetricSINDy

__all__ = ["SymmetricRegressor", "SymmetricSINDy", "discover_data", "fit_mlp"]
