"""The cases of the exercise checked by helpers/exercises/collapsing_rate.py."""

from .sources import edited, fit_loop

STARTER_SAYS = ("The learning rate per epoch was 0.1\u21920.05, 0.05\u21920.025")
FIX_CODE = ["once at the end of every epoch"]
REFERENCE = None


def scheduler_source(epoch_start="", batch_end="", epoch_end="scheduler.step()"):
    """A fit whose history records each epoch's mean loss and the learning rate it started with."""
    return fit_loop(arguments="scheduler, epochs", epoch_start='lr = optimizer.param_groups[0]["lr"]\n        '
                    + epoch_start, batch_end=batch_end, epoch_end=epoch_end, record='{"loss": total / count, "lr": lr}')


WRONG = {
    "stepped every batch": (scheduler_source(batch_end="scheduler.step()", epoch_end=""),
                            "The scheduler was stepped 12 times in 4 epochs of 3 batches (12 optimizer steps)."),
    "stepped before the epoch's optimizer steps": (scheduler_source(epoch_start="scheduler.step()", epoch_end=""),
                                                   "The learning rate per epoch was 0.1, 0.05, 0.05, 0.025"),
    "never stepped": (scheduler_source(epoch_end=""), "The scheduler was stepped 0 times in 4 epochs"),
    "a scheduler of its own": (scheduler_source(epoch_start="if epoch == 0: import torch; scheduler = "
                                                            "torch.optim.lr_scheduler.StepLR(optimizer, 2, 0.5)"),
                               "the scheduler your function was given was never stepped"),
    "lr recorded after the step": (edited(scheduler_source(), ("        scheduler.step()\n",
                                                                "        scheduler.step()\n"
                                                                "        lr = optimizer.param_groups[0]['lr']\n")),
                                   "Epoch 2's record says lr=0.05, but its optimizer steps ran at 0.1."),
    "lr from get_last_lr after the step": (edited(scheduler_source(), ("        scheduler.step()\n",
                                                                        "        scheduler.step()\n"
                                                                        "        lr = scheduler.get_last_lr()[0]\n")),
                                           "Epoch 2's record says lr=0.05"),
    "stepped every batch, lr set by hand": (scheduler_source(
        batch_end="scheduler.step()\n            optimizer.param_groups[0]['lr'] = 0.1 * 0.5 ** (epoch // 2)",
        epoch_start="optimizer.param_groups[0]['lr'] = 0.1 * 0.5 ** (epoch // 2)", epoch_end=""),
        "The learning rate followed the schedule, but after 4 epochs the scheduler had counted 12 steps."),
    "stepped at the start of every epoch but the first": (scheduler_source(epoch_start="if epoch: scheduler.step()",
                                                                           epoch_end=""),
                                                          "after 4 epochs the scheduler had counted 3 steps"),
    "the batch means averaged": (edited(scheduler_source(), ("loss.item() * len(targets)", "loss.item()"),
                                        ("count += len(targets)", "count += 1")),
                                 "Epoch 1's loss is"),
    "the notebook's schedule written out": (scheduler_source(
        epoch_start="optimizer.param_groups[0]['lr'] = [0.1, 0.1, 0.05, 0.05, 0.05][epoch]"),
        "the learning rate per epoch was 0.1, 0.1, 0.05, 0.05, 0.05; StepLR(step_size=3, gamma=0.1)"),
    "stepped with the fit's epoch number": (scheduler_source(epoch_end="scheduler.step(epoch + 1)"),
                                            "With a scheduler resumed after 2 epochs: the learning rate per epoch "
                                            "was 0.1, 0.1, 0.1, 0.01, 0.01; StepLR(step_size=3, gamma=0.1) intends "
                                            "0.1, 0.01, 0.01, 0.01, 0.001."),
    "lr worked out from StepLR's settings": (
        edited(scheduler_source(), ('lr = optimizer.param_groups[0]["lr"]',
                                    "lr = scheduler.base_lrs[0] * scheduler.gamma ** (epoch // scheduler.step_size)")),
        "With a scheduler resumed after 2 epochs: epoch 2's record says lr=0.1, but its optimizer steps ran at 0.01."),
}


RIGHT = {
    "once per epoch": scheduler_source(),
    "after a last look at the lr": scheduler_source(epoch_end="lr = scheduler.get_last_lr()[0]; scheduler.step()"),
    "lr from get_last_lr before the step": edited(scheduler_source(), ('lr = optimizer.param_groups[0]["lr"]',
                                                                    "lr = scheduler.get_last_lr()[0]")),
}
