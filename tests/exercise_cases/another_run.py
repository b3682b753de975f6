"""The cases of the exercise checked by helpers/exercises/another_run.py."""

STARTER_SAYS = ("the optimizer your function was given still holds only the 1 step it had taken before the "
                "resume; the checkpoint holds 6")
FIX_CODE = ["optimizer.load_state_dict", "set_rng_state", "random.setstate"]
REFERENCE = None


RESUME_HEAD = """
import random

import torch
import helpers


def resume(path, model, optimizer):
    state = torch.load(path, weights_only=True)
"""


MODEL = '    model.load_state_dict(state["model"])\n'


OPTIMIZER = '    optimizer.load_state_dict(state["optimizer"])\n'


RANDOM = '    random.setstate(state["random"]["python"])\n    torch.set_rng_state(state["random"]["torch"])\n'


NEXT = '    return state["epoch"] + 1\n'


WRONG = {
    "model only": (RESUME_HEAD + MODEL + NEXT,
                   "the optimizer your function was given still holds only the 1 step it had taken before the "
                   "resume; the checkpoint holds 6"),
    "optimizer and random state only": (RESUME_HEAD + OPTIMIZER + RANDOM + NEXT,
                                        "the model's weights are not the ones in the checkpoint"),
    "into a new optimizer": (RESUME_HEAD + MODEL + RANDOM
                             + '    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)\n' + OPTIMIZER + NEXT,
                             "the optimizer your function was given still holds only the 1 step"),
    "optimizer state copied by hand": (RESUME_HEAD + MODEL + RANDOM
                                       + '    optimizer.state.update(state["optimizer"]["state"])\n' + NEXT,
                                       "The optimizer's state is filed under the numbers 0, 1, ... instead of under "
                                       "the model's parameters"),
    "parameters replaced (assign=True)": (RESUME_HEAD + MODEL.replace('])', '], assign=True)') + OPTIMIZER + RANDOM
                                          + NEXT,
                                          "Your function replaced the model's parameters with new tensors"),
    "only the optimizer's per-parameter state": (RESUME_HEAD + MODEL + RANDOM + (
        '    current = optimizer.state_dict()\n    current["state"] = state["optimizer"]["state"]\n'
        '    optimizer.load_state_dict(current)\n') + NEXT,
        "the optimizer your function was given has learning rate 0.02; the checkpoint saved 0.01"),
    "random state ignored": (RESUME_HEAD + MODEL + OPTIMIZER + NEXT,
                             "torch's and Python's random generators are not in the state the checkpoint saved"),
    "only torch's random state": (RESUME_HEAD + MODEL + OPTIMIZER + RANDOM.split("\n")[1] + "\n" + NEXT,
                                  "Python's random generator is not in the state the checkpoint saved"),
    "repeats the saved epoch": (RESUME_HEAD + MODEL + OPTIMIZER + RANDOM + '    return state["epoch"]\n',
                                "Your function returned 2"),
}


RIGHT = {
    "everything saved": RESUME_HEAD + MODEL + OPTIMIZER + RANDOM + NEXT,
    "helpers.load_checkpoint": RESUME_HEAD + ('    return helpers.load_checkpoint(path, model=model, '
                                              'optimizer=optimizer)["epoch"] + 1\n'),
    "optimizer first, on the CPU": (RESUME_HEAD.replace("weights_only=True", "weights_only=True, map_location='cpu'")
                                    + RANDOM + OPTIMIZER + MODEL + '    return int(state["epoch"]) + 1\n'),
}
