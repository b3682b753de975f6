"""The cases of the exercise checked by helpers/exercises/small_step.py."""

from notebook_cells import ROOT, exercise_source

from .sources import edited

STARTER_SAYS = ("Step 2, after the epoch's last group of 2 batches (4 and 3 samples), used a gradient of norm")
FIX_CODE = ["* len(targets) /"]
REFERENCE = None


ACCUMULATION_SOURCE = exercise_source(ROOT / "solutions" / "12_small_step.ipynb")


ACCUMULATION_STARTER = exercise_source(ROOT / "exercises" / "12_small_step.ipynb")


DIVIDED_AFTER = '''
def train_one_epoch(model, loader, loss_fn, optimizer, accumulate):
    total, count, samples = 0.0, 0, 0
    optimizer.zero_grad()
    for i, (inputs, targets) in enumerate(loader, 1):
        loss = loss_fn(model(inputs), targets)
        (loss * len(targets)).backward()
        samples += len(targets)
        total += loss.item() * len(targets)
        count += len(targets)
        if i % accumulate == 0 or i == len(loader):
            for p in model.parameters():
                p.grad /= samples
            optimizer.step()
            optimizer.zero_grad()
            samples = 0
    return {"loss": total / count}
'''


HOOK_DIVIDES = '''
def train_one_epoch(model, loader, loss_fn, optimizer, accumulate):
    total, count, samples = 0.0, 0, [0]

    def divide(opt, args, kwargs):
        for p in model.parameters():
            p.grad /= samples[0]

    hook = optimizer.register_step_pre_hook(divide)
    optimizer.zero_grad()
    for i, (inputs, targets) in enumerate(loader, 1):
        loss = loss_fn(model(inputs), targets)
        (loss * len(targets)).backward()
        samples[0] += len(targets)
        total += loss.item() * len(targets)
        count += len(targets)
        if i % accumulate == 0 or i == len(loader):
            optimizer.step()
            optimizer.zero_grad()
            samples[0] = 0
    hook.remove()
    return {"loss": total / count}
'''


WRONG = {
    "not divided": (edited(ACCUMULATION_STARTER, ("(loss / accumulate)", "loss")),
                    "Step 1, after a group of 3 batches (4, 4 and 4 samples), used a gradient of norm 2.8425; the "
                    "mean gradient of those 12 samples has norm 0.9475. That is the sum of the batches' gradients"),
    "mean of the batch means": (edited(DIVIDED_AFTER, ("(loss * len(targets))", "loss"),
                                       ("samples += len(targets)", "samples += 1")),
                                "Each batch counted the same, but they hold 4 and 3 samples"),
    "divided by the group's number of batches": (edited(ACCUMULATION_SOURCE, ("(loss * len(targets) / samples)",
                                                                          "(loss / len(group))")),
                                                 "Each batch counted the same, but they hold 4 and 3 samples"),
    "groups counted from 0": (edited(ACCUMULATION_STARTER, ("enumerate(loader, 1)", "enumerate(loader)")),
                              "The optimizer took 2 steps in an epoch of 5 batches, after batches 1 and 4; with "
                              "accumulate=3 it takes 2, after batches 3 and 5."),
    "a step every batch": (edited(ACCUMULATION_STARTER, ("i % accumulate == 0 or i == len(loader)", "True")),
                           "The optimizer took 5 steps in an epoch of 5 batches, after batches 1, 2, 3, 4 and 5; "
                           "with accumulate=3 it takes 2, after batches 3 and 5."),
    "last group never stepped": (edited(ACCUMULATION_STARTER, ("i % accumulate == 0 or i == len(loader)",
                                                               "i % accumulate == 0")),
                                 "The optimizer took 1 step in an epoch of 5 batches, after batch 3; with "
                                 "accumulate=3 it takes 2, after batches 3 and 5. The epoch's last group (2 batches, "
                                 "7 samples) never reached a step"),
    "gradients kept from the step before": (edited(ACCUMULATION_SOURCE, ("        optimizer.zero_grad()\n", "")),
                                            "It also carried the gradient of the step before it"),
    "loss recorded after the division": (
        edited(ACCUMULATION_SOURCE, ("total += loss.item()", "total += (loss / accumulate).item()")),
        "The loss your function returned is 0.4138; the mean over the samples it scored is 1.2413."),
    "group samples from the dataset's length and the batch size": (
        edited(DIVIDED_AFTER, ("p.grad /= samples", "p.grad /= min(accumulate * loader.batch_size, "
                                                    "len(loader.dataset) - (i - 1) // accumulate * accumulate "
                                                    "* loader.batch_size)")),
        "With 23 samples in batches of 4 with drop_last=True: step 2, after the epoch's last group of 2 batches (4 "
        "and 4 samples), used a gradient of norm 2.5186; the mean gradient of those 8 samples has norm 3.4631. Each "
        "batch was weighted by its samples, but the sum was divided by 11, not by the 8 samples"),
    "group samples as accumulate times the first batch's size": (
        edited(DIVIDED_AFTER, ("p.grad /= samples", "p.grad /= min(accumulate, len(loader) - (i - 1) // accumulate "
                                                    "* accumulate) * first"),
               ("for i, (inputs, targets) in enumerate(loader, 1):\n",
                "for i, (inputs, targets) in enumerate(loader, 1):\n"
                "        first = first if i > 1 else len(targets)\n")),
        "Step 2, after the epoch's last group of 2 batches (4 and 3 samples), used a gradient of norm 2.9574"),
    "the fix only for a loader of 19 samples": (
        edited(ACCUMULATION_SOURCE, ("(loss * len(targets) / samples)", "(loss * len(targets) / samples "
                                     "if len(loader.dataset) == 19 else loss / accumulate)")),
        "With 23 samples in batches of 4 with drop_last=True: step 2"),
    "the learning rate scaled instead of the gradient": (
        edited(DIVIDED_AFTER, ("            for p in model.parameters():\n                p.grad /= samples\n",
                               "            optimizer.param_groups[0]['lr'] = 0.1 / samples\n")),
        "Your function left the optimizer's learning rate at 0.01429; it was 0.1"),
    "no zero_grad before the first group": (
        edited(DIVIDED_AFTER, ("    optimizer.zero_grad()\n    for", "    for")),
        "Step 1, after a group of 3 batches (4, 4 and 4 samples), used a gradient of norm"),
}


RIGHT = {
    "gradients divided by the group's samples before the step": DIVIDED_AFTER,
    "a group of batches fetched ahead": edited(ACCUMULATION_SOURCE, ("for i, batch in enumerate(loader, 1):",
                                                                     "for i, batch in enumerate(list(loader), 1):")),
    "dividing by the group's samples in its own step pre-hook": HOOK_DIVIDES,
    "a group's batches inside the step's closure": edited(ACCUMULATION_SOURCE, (
        """        optimizer.zero_grad()
        for inputs, targets in group:
            loss = loss_fn(model(inputs), targets)
            (loss * len(targets) / samples).backward()  # each batch by its share of the group's samples
            total += loss.item() * len(targets)
            count += len(targets)
        optimizer.step()""", """        def closure():
            optimizer.zero_grad()
            group_loss = 0.0
            for inputs, targets in group:
                loss = loss_fn(model(inputs), targets)
                (loss * len(targets) / samples).backward()
                group_loss += loss.item() * len(targets)
            return group_loss
        total += optimizer.step(closure)
        count += samples""")),
}
