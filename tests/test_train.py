"""The command line: its options, its one-line errors, and gradient accumulation end to end."""

import errno
import json

import pytest
import torch

from helpers.data import CHECKSUMS, DATA_DIR
from helpers.train import main, parse


@pytest.mark.parametrize("flags, words", [
    (["--batch-size", "0"], "--batch-size must be at least 1, got 0"),
    (["--accumulate", "-2"], "--accumulate must be at least 1, got -2"),
    (["--epochs", "0"], "--epochs must be at least 1, got 0"),
    (["--val-size", "0"], "--val-size must be at least 1, got 0"),
    (["--val-size", "4000"], "--val-size must leave images to train on: below 4000, got 4000"),
    (["--seed", "-1"], "--seed must be between 0 and 2**32 - 1, got -1"),
    (["--device", "gpu0"], "--device='gpu0' is not a device name. Use cpu, cuda, cuda:1 or mps"),
    (["--lr", "fast"], "argument --lr: invalid float value: 'fast'"),
    (["--lr", "-1"], "--lr must be a positive number, got -1.0"),
    (["--lr", "0"], "--lr must be a positive number, got 0.0"),
    (["--lr", "nan"], "--lr must be a positive number, got nan"),
    (["--lr", "inf"], "--lr must be a positive number, got inf"),
    (["--history-json", "/"], "--history-json /: is a folder; name a file"),
    (["--history-json", "/etc/hostname/h.json"], "--history-json /etc/hostname/h.json: its folder cannot be made"),
    (["--checkpoint", "."], "--checkpoint .: is a folder; name a file"),
    (["--checkpoint", "/tmp/same.json", "--history-json", "/tmp/same.json"], "--checkpoint and --history-json name "
                                                                             "the same file, /tmp/same.json"),
])
def test_a_bad_flag_is_one_line_not_a_traceback(capsys, flags, words):
    with pytest.raises(SystemExit) as exited:
        parse(flags)
    error = capsys.readouterr().err.strip().splitlines()
    assert exited.value.code == 2 and error[-1].startswith(f"python -m helpers.train: error: {words}")
    assert not any("Traceback" in line for line in error)


@pytest.mark.skipif(torch.accelerator.current_accelerator(check_available=True) is not None,
                    reason="this machine has an accelerator")
def test_a_device_this_machine_lacks_is_named(capsys):
    with pytest.raises(SystemExit):
        parse(["--device", "cuda"])
    assert "--device='cuda', but this machine has no accelerator. Use --device=cpu" in capsys.readouterr().err


def test_accumulating_4_batches_of_16_trains_as_batches_of_64(tmp_path):
    # 3,000 training images: 188 batches of 16, the last of 8, so the last group of 4 holds 56 images, as the
    # last batch of 64 does. Dividing each batch's loss by 4 would weigh those 8 images like 16.
    runs = {}
    for name, flags in {"64": ["--batch-size", "64"], "16x4": ["--batch-size", "16", "--accumulate", "4"]}.items():
        main(["--epochs", "2", "--device", "cpu", "--history-json", str(tmp_path / f"{name}.json"), *flags])
        runs[name] = json.loads((tmp_path / f"{name}.json").read_text())
    assert [set(r) for r in runs["64"]] == [{"loss", "accuracy", "val_loss", "val_accuracy"}] * 2
    worst = max(abs(a[k] - b[k]) for a, b in zip(runs["64"], runs["16x4"]) for k in a)
    assert worst <= 1e-5, f"largest difference {worst:.2e}"


def test_a_finished_run_asked_again_writes_its_history_from_the_checkpoint(tmp_path, capsys):
    out, precious = tmp_path / "h.json", tmp_path / "precious"
    flags = ["--epochs", "1", "--device", "cpu", "--checkpoint", str(tmp_path / "run.ckpt"), "--history-json", str(out)]
    main(flags)
    written = out.read_text()
    out.unlink()  # as if the run had been killed after its last save, before the history was written
    precious.write_text("keep me")
    (tmp_path / ".h.json.tmp").symlink_to(precious)
    capsys.readouterr()
    main(flags)
    assert out.read_text() == written and precious.read_text() == "keep me"
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'run.ckpt'} already holds the 1 epoch asked for: nothing "
                                              "to train.\n       epoch         loss")


@pytest.mark.parametrize("flag, before, after", [("--seed", "0", "1"), ("--val-size", "1000", "500"),
                                                 ("--batch-size", "64", "32"), ("--accumulate", "1", "2")])
@pytest.mark.parametrize("epochs", ["1", "2"])
def test_a_run_asked_again_with_another_seed_split_or_batch_is_refused(tmp_path, flag, before, after, epochs):
    checkpoint = ["--device", "cpu", "--checkpoint", str(tmp_path / "run.ckpt")]
    main(["--epochs", "1", flag, before, *checkpoint])
    name = flag[2:].replace("-", "_")
    with pytest.raises(SystemExit, match=rf"python -m helpers.train: error: .*run.ckpt was trained with "
                                         rf"{name}={before}; this call asks for {name}={after}, so its epochs"):
        main(["--epochs", epochs, flag, after, *checkpoint])


def test_a_checkpoint_that_holds_more_epochs_is_a_one_line_error(tmp_path):
    flags = ["--device", "cpu", "--checkpoint", str(tmp_path / "run.ckpt")]
    main(["--epochs", "2", *flags])
    with pytest.raises(SystemExit, match=r"python -m helpers.train: error: .*run.ckpt already holds 2 epochs and"):
        main(["--epochs", "1", *flags])


def test_a_device_setting_this_machine_lacks_is_one_line(monkeypatch):
    monkeypatch.setenv("COURSE_DEVICE", "tpu")
    with pytest.raises(SystemExit, match=r"^python -m helpers.train: error: COURSE_DEVICE='tpu' is not a device name"):
        main(["--epochs", "1"])


def test_a_learning_rate_that_diverges_is_one_line():
    with pytest.raises(SystemExit, match=r"^python -m helpers.train: error: The training loss became nan at epoch 1, "
                                         r"batch \d+\. Lower the learning rate"):
        main(["--epochs", "1", "--device", "cpu", "--lr", "1e6"])


@pytest.mark.parametrize("damage, words", [
    (lambda raw: [path.unlink() for path in raw.iterdir()], "No MNIST files in {raw}. The course ships them"),
    (lambda raw: (raw / "train-labels-idx1-ubyte").unlink(), "No train-labels-idx1-ubyte in {raw}."),
    (lambda raw: (raw / "train-labels-idx1-ubyte").write_bytes(b"\0" * 10), "{raw}/train-labels-idx1-ubyte is not the "
                                                                            "file the course ships"),
])
def test_missing_or_damaged_data_files_are_one_line(tmp_path, monkeypatch, damage, words):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in CHECKSUMS:
        (raw / name).write_bytes((DATA_DIR / "MNIST" / "raw" / name).read_bytes())
    damage(raw)
    monkeypatch.setattr("helpers.data.DATA_DIR", tmp_path)
    with pytest.raises(SystemExit) as exited:
        parse(["--epochs", "1"])
    assert str(exited.value.code).startswith(f"python -m helpers.train: error: {words.format(raw=raw)}")
    assert "\n" not in str(exited.value.code)


@pytest.mark.parametrize("checkpoint", [True, False])
def test_a_history_that_cannot_be_written_is_one_line_that_says_where_it_is(tmp_path, monkeypatch, checkpoint):
    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("helpers.train.write_atomically", full)
    saved = ["--checkpoint", str(tmp_path / "run.ckpt")] if checkpoint else []
    kept = (f"{tmp_path / 'run.ckpt'} holds the history: once the folder can take the file, run the same command "
            "again to write it." if checkpoint else "the table above is all that is kept.")
    with pytest.raises(SystemExit) as exited:
        main(["--epochs", "1", "--device", "cpu", "--history-json", str(tmp_path / "h.json"), *saved])
    assert exited.value.code == (f"python -m helpers.train: error: cannot write --history-json {tmp_path / 'h.json'}: "
                                 f"No space left on device; {kept}")
