import torch
from torch import nn

from helpers.data import PAD
from helpers.models import TokenTagger, mnist_cnn, mnist_mlp, regression_mlp


def test_mnist_mlp_maps_images_to_ten_logits():
    model = mnist_mlp(32, dropout=0.1, batchnorm=True)
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    kinds = [type(layer) for layer in model]
    assert kinds == [nn.Flatten, nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Dropout, nn.Linear]
    assert [type(layer) for layer in mnist_mlp()] == [nn.Flatten, nn.Linear, nn.ReLU, nn.Linear]


def test_the_other_models_give_the_shapes_their_losses_take():
    assert mnist_cnn()(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    assert regression_mlp()(torch.zeros(5, 1)).shape == (5, 1)
    assert TokenTagger(8, 4)(torch.ones(5, 7, dtype=torch.long)).shape == (5, 4, 7)  # the class axis second


def test_the_tagger_reads_left_to_right_so_padding_after_a_token_cannot_change_its_scores():
    model = TokenTagger(8, 4).eval()
    tokens = torch.tensor([[3, 1, 4, 1, 5]])
    padded = nn.functional.pad(tokens, (0, 4), value=PAD)
    assert torch.allclose(model(padded)[..., :5], model(tokens), atol=1e-6)
