"""The cases of the exercise checked by helpers/exercises/moving_split.py."""

STARTER_SAYS = ("The validation set changed when a model was built before the split")
FIX_CODE = ["manual_seed(seed)", "generator="]
REFERENCE = None


SUBSETS = "    return Subset(dataset, order[val_size:]), Subset(dataset, order[:val_size])\n"


SPLIT_HEAD = '''
import random

import torch
from torch.utils.data import Subset, random_split

SHARED = torch.Generator().manual_seed(0)


def split(dataset, val_size, seed):
    sizes = [len(dataset) - val_size, val_size]
'''


SEEDED = "torch.Generator().manual_seed(seed)"


WRONG = {
    "global generator": (SPLIT_HEAD + "    return random_split(dataset, sizes)\n",
                         "The validation set changed when a model was built before the split"),
    "generator seeded from the clock": (SPLIT_HEAD + ("    generator = torch.Generator()\n    generator.seed()\n"
                                                      "    return random_split(dataset, sizes, generator=generator)\n"),
                                        "Two calls with the same seed gave different validation sets. The generator "
                                        "the split drew from did not start from the seed"),
    "one module-level generator": (SPLIT_HEAD + "    return random_split(dataset, sizes, generator=SHARED)\n",
                                   "Your function draws from the generator `SHARED`, made outside it, and every "
                                   "call moves it on"),
    "unseeded generator": (SPLIT_HEAD + "    return random_split(dataset, sizes, generator=torch.Generator())\n",
                           "Seeds 1 and 2 gave the same validation set"),
    "re-seeds torch's global generator": (SPLIT_HEAD + "    torch.manual_seed(seed)\n"
                                                       "    return random_split(dataset, sizes)\n",
                                          "re-seeded torch's global random generator"),
    "re-seeds Python's random": (SPLIT_HEAD + ("    random.seed(seed)\n"
                                               "    order = random.sample(range(len(dataset)), len(dataset))\n"
                                               + SUBSETS),
                                 "changed the state of Python's global `random` module"),
    "fixed fractions instead of val_size": (SPLIT_HEAD + "    return random_split(dataset, [0.75, 0.25], "
                                                         f"generator={SEEDED})\n",
                                            "Asked for 7 validation samples out of 40, your function returned 30 "
                                            "training and 10 validation samples"),
    "no shuffle": (SPLIT_HEAD + ("    n = len(dataset) - val_size\n"
                                 "    return Subset(dataset, range(n)), Subset(dataset, range(n, len(dataset)))\n"),
                   "The validation set holds only classes [3] of the 4"),
    "overlapping sets": (SPLIT_HEAD + (f"    order = torch.randperm(len(dataset), generator={SEEDED}).tolist()\n"
                                       "    return Subset(dataset, order), Subset(dataset, order[:val_size])\n"),
                         "not each sample once"),
}


RIGHT = {
    "random_split with a generator": SPLIT_HEAD + f"    return random_split(dataset, sizes, generator={SEEDED})\n",
    "randperm and Subset": SPLIT_HEAD + (f"    order = torch.randperm(len(dataset), generator={SEEDED}).tolist()\n"
                                         + SUBSETS),
    "a Random of its own": SPLIT_HEAD + ("    order = random.Random(seed).sample(range(len(dataset)), len(dataset))\n"
                                         + SUBSETS),
    "helpers.train_val_split": SPLIT_HEAD + ("    import helpers\n"
                                             f"    return helpers.train_val_split(dataset, val_size, {SEEDED})\n"),
}
