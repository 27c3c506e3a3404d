"""The one place the version is written (pyproject.toml reads it through setuptools' dynamic metadata)."""
__version__ = "0.2.0"
