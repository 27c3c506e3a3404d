"""The ``symlie`` command line: enforce, discover, promote and the demo."""
from .main import main

__all__ = ["main"]
