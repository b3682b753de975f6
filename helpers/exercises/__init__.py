"""Exercise checks: each module has check(your_function), hint(level) and solution()."""

from . import (
    accumulation, capstone, class_axis, eval_mode, loss_averaging, loss_graph, metric_reset, padding_count,
    regression_shape, resume_optimizer, scheduler, set_epoch, split_generator, train_mode, zero_grad,
)
from .feedback import Feedback

EXERCISES = {module.NOTEBOOK: module for module in
             (eval_mode, loss_averaging, zero_grad, metric_reset, split_generator, loss_graph, resume_optimizer,
              train_mode, scheduler, capstone, set_epoch, accumulation, regression_shape, padding_count, class_axis)}

__all__ = ["EXERCISES", "Feedback", "accumulation", "capstone", "class_axis", "eval_mode", "loss_averaging",
           "loss_graph", "metric_reset", "padding_count", "regression_shape", "resume_optimizer", "scheduler",
           "set_epoch", "split_generator", "train_mode", "zero_grad"]
