import torch
from torch import nn

from helpers.models import mnist_mlp


def test_mnist_mlp_maps_images_to_ten_logits():
    model = mnist_mlp(32, dropout=0.1, batchnorm=True)
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    kinds = [type(layer) for layer in model]
    assert kinds == [nn.Flatten, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear]
    assert [type(layer) for layer in mnist_mlp()] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]
