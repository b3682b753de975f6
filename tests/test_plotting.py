import matplotlib.pyplot as plt
import torch

from helpers import History, plot_history, show_digits


def test_plot_history_draws_training_and_validation_curves():
    history = History([{"loss": 1.0, "accuracy": 0.5, "val_loss": 1.2, "val_accuracy": 0.4},
                       {"loss": 0.8, "accuracy": 0.6, "val_loss": 1.0, "val_accuracy": 0.5}])
    fig = plot_history(history)
    axes = fig.axes
    assert [ax.get_title() for ax in axes] == ["loss", "accuracy"]
    loss_lines = axes[0].get_lines()
    assert [line.get_label() for line in loss_lines] == ["training", "validation"]
    assert list(loss_lines[1].get_ydata()) == [1.2, 1.0]
    shapes = [(line.get_linestyle(), line.get_marker()) for line in loss_lines]
    assert shapes[0] != shapes[1] and shapes[0][0] != shapes[1][0], "told apart by line and marker, not colour alone"
    plt.close(fig)


def test_plot_history_marks_the_best_epoch_when_asked():
    history = History([{"loss": 1.0, "val_loss": 1.2}, {"loss": 0.8, "val_loss": 0.9}, {"loss": 0.6, "val_loss": 1.1}])
    fig = plot_history(history, best=2)
    marker = fig.axes[0].get_lines()[-1]
    assert marker.get_label() == "best epoch (2)" and list(marker.get_xdata()) == [2, 2]
    plt.close(fig)


def test_show_digits_titles_labels_and_predictions():
    fig = show_digits(torch.zeros(3, 1, 28, 28), torch.tensor([1, 2, 3]), torch.tensor([1, 7, 3]), ncols=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["label 1\npred 1", "label 2\npred 7", "label 3\npred 3"]
    assert len(fig.axes) == 4
    plt.close(fig)
