"""Exercise checks: each module has check(your_function), hint(level) and solution()."""

from . import eval_mode, loss_averaging, loss_graph, metric_reset, resume_optimizer, split_generator, zero_grad
from ._common import Feedback

EXERCISES = {module.NOTEBOOK: module for module in
             (eval_mode, loss_averaging, zero_grad, metric_reset, split_generator, loss_graph, resume_optimizer)}

__all__ = ["EXERCISES", "Feedback", "eval_mode", "loss_averaging", "loss_graph", "metric_reset",
           "resume_optimizer", "split_generator", "zero_grad"]
