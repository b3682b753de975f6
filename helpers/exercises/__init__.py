"""Exercise checks: each module has check(your_function), hint(level) and solution(); helpers.syllabus lists them."""

from importlib import import_module

from ..syllabus import EXERCISES as LISTED
from .feedback import Feedback

EXERCISES = {each.notebook: import_module(f"{__name__}.{each.module}") for each in LISTED}

__all__ = ["EXERCISES", "Feedback", *(each.module for each in LISTED)]
