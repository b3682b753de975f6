"""The cases of the exercise checked by helpers/exercises/same_order.py."""

from .sources import edited, fit_loop

STARTER_SAYS = ("Process 0 drew its 7 samples in the same order in all 3 epochs")
FIX_CODE = ["set_epoch("]
REFERENCE = None


def set_epoch_source(epoch_start="loader.sampler.set_epoch(epoch)", batch_end="", epoch_end=""):
    return fit_loop(epoch_start=epoch_start, batch_end=batch_end, epoch_end=epoch_end)


WRONG = {
    "always epoch 0": (set_epoch_source("loader.sampler.set_epoch(0)"),
                       "Process 0 drew its 7 samples in the same order in all 3 epochs: 4, 7, 2, 9, 1, 5, 8."),
    "torch.manual_seed per epoch": (set_epoch_source("import torch; torch.manual_seed(epoch)"),
                                    "Also: Your function re-seeded torch's global random generator."),
    "set_epoch after the first batch": (set_epoch_source("", batch_end="loader.sampler.set_epoch(epoch)"),
                                        "Process 0 drew its samples in an order it had drawn before: epoch 2 "
                                        "repeated epoch 1"),
    "set_epoch(epoch) after the epoch": (set_epoch_source("", epoch_end="loader.sampler.set_epoch(epoch)"),
                                         "epoch 2 repeated epoch 1"),
    "a random epoch number": (set_epoch_source("import random; loader.sampler.set_epoch(random.randrange(10**6))"),
                              "In epoch 1 the processes' shares did not fit together: samples"),
    "the history not returned": (edited(set_epoch_source(), ("    return history", "")),
                                 "Your function returned None; the mean training loss of each of the 3 epochs was"),
    "no optimizer step": (edited(set_epoch_source(), ("            optimizer.step()\n", "")),
                          "The optimizer took 0 steps in 3 epochs of 2 batches."),
    "the batch means averaged": (edited(set_epoch_source(), ("loss.item() * len(targets)", "loss.item()"),
                                        ("count += len(targets)", "count += 1")),
                                 "the mean training loss of each of the 3 epochs was"),
    "a DataLoader of its own": (set_epoch_source("import torch; loader = torch.utils.data.DataLoader("
                                                 "loader.dataset, batch_size=4, shuffle=True)"),
                                "Process 0 drew 42 samples in 3 epochs; its share is 7 samples per epoch (14 "
                                "samples, 2 processes), 21 in all."),
    "the sampler's seed set to the epoch": (set_epoch_source("loader.sampler.seed = epoch"),
                                            "Your function changed the sampler's seed from 0 to 2."),
    "the sampler's seed moved on every epoch": (set_epoch_source("loader.sampler.seed += 1"),
                                                "Your function changed the sampler's seed from 0 to 3."),
    "the seed set to the epoch, then put back": (
        set_epoch_source("seed = loader.sampler.seed if epoch == 0 else seed\n        loader.sampler.seed = epoch",
                         epoch_end="loader.sampler.seed = seed"),
        "Samplers seeded 0 and 1 drew the same orders in the first 3 epochs."),
    "an epoch number that comes round every 3 epochs": (set_epoch_source("loader.sampler.set_epoch(epoch % 3)"),
                                                         "Process 0 drew its samples in an order it had drawn before: "
                                                         "epoch 4 repeated epoch 1"),
}


RIGHT = {
    "set_epoch(epoch) first": set_epoch_source(),
    "set_epoch(epoch + 1) after the epoch": set_epoch_source("", epoch_end="loader.sampler.set_epoch(epoch + 1)"),
    "only when the sampler has set_epoch": set_epoch_source("if hasattr(loader.sampler, 'set_epoch'): "
                                                            "loader.sampler.set_epoch(epoch)"),
    "set_epoch(epoch + 1) first": set_epoch_source("loader.sampler.set_epoch(epoch + 1)"),
}
