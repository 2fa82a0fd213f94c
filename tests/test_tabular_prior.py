"""The tabular classification prior: class counts, label symmetry, feature types and relevance."""

import math

import pytest
import torch

from priors import TabularClassificationPrior
from priors.tabular import FEATURE_TYPES


def one_type(name: str) -> tuple[float, ...]:
    return tuple(float(t == name) for t in FEATURE_TYPES)


def test_each_dataset_has_between_min_and_max_classes_and_every_count_occurs():
    prior = TabularClassificationPrior(num_classes=6, min_classes=3, max_features=3, noise_std=0.5)
    y = prior.sample(400, 300, 3, torch.Generator().manual_seed(0)).y
    assert torch.equal(y, y.round()) and y.min() >= 0 and y.max() <= 5
    distinct = torch.tensor([len(torch.unique(row)) for row in y])
    assert distinct.max() <= 6 and set(distinct.tolist()) >= {3, 4, 5, 6}  # drawn uniformly from 3 .. 6
    # a dataset with k classes uses codes 0 .. k-1 only: all six codes appear only where six classes were drawn,
    # about a quarter of the datasets (some with six drawn miss a rare class)
    share_six = (y.max(1).values == 5).double().mean().item()
    assert share_six < 0.25 + 5 * math.sqrt(0.25 * 0.75 / 400)


@pytest.mark.parametrize("threshold_prob", [0.0, 1.0])
def test_class_codes_are_exchangeable(threshold_prob):
    # classes are numbered in random order, also the ordinal ones of thresholding: each code is as frequent
    prior = TabularClassificationPrior(num_classes=3, min_classes=3, threshold_prob=threshold_prob, max_features=2)
    y = prior.sample(3000, 50, 2, torch.Generator().manual_seed(1)).y
    per_dataset = torch.stack([(y == c).double().mean(1) for c in range(3)], 1)  # (B, 3) class shares
    means, se = per_dataset.mean(0), per_dataset.std(0) / math.sqrt(len(y))
    assert ((means - 1 / 3).abs() < 5 * se).all(), means


def test_ordinal_classes_are_numbered_at_random():
    # cuts of one monotone output along one feature: the classes come in order along x, and the middle one is
    # any of the three codes with chance 1/3 (were codes the order of the cuts, it would always be 1)
    prior = TabularClassificationPrior(
        num_classes=3, min_classes=3, threshold_prob=1.0, max_features=1,
        activations=["identity"], noise_std=0.001, feature_mix=one_type("gaussian"),
    )  # fmt: skip
    batch = prior.sample(600, 100, 1, torch.Generator().manual_seed(4))
    y = batch.y.gather(1, batch.x[..., 0].argsort(1))
    middle = y[:, 50][(y[:, 0] != y[:, 50]) & (y[:, 50] != y[:, -1]) & (y[:, 0] != y[:, -1])]
    assert len(middle) > 100
    share = (middle == 1).double().mean().item()
    assert abs(share - 1 / 3) < 5 * math.sqrt(2 / 9 / len(middle))


@pytest.mark.parametrize(
    ("kind", "check"),
    [
        ("binary", lambda x: ((x == 0) | (x == 1)).all()),
        ("integer", lambda x: torch.equal(x, x.round()) and len(torch.unique(x)) > 2),
        ("uniform", lambda x: ((x > 0) & (x < 1)).all()),
        ("skewed", lambda x: (x != 0).all() and ((x > 0).all(1) | (x < 0).all(1)).all()),
        ("gaussian", lambda x: x.mean().abs() < 0.05 and (x.std() - 1).abs() < 0.05),
    ],
)
def test_feature_types_are_what_their_names_say(kind, check):
    prior = TabularClassificationPrior(num_classes=3, max_features=4, feature_mix=one_type(kind))
    x = prior.sample(50, 200, 4, torch.Generator().manual_seed(2)).x  # (B, N, d)
    assert check(x.transpose(1, 2).reshape(-1, 200))


def test_irrelevant_features_do_not_change_the_labels():
    # all features irrelevant: the label is noise around a constant, whatever x is; a dataset with every feature
    # relevant and little noise depends on x (its labels change when the points are sorted by a feature)
    def label_runs(irrelevant_prob: float) -> float:
        prior = TabularClassificationPrior(num_classes=2, max_features=1, irrelevant_prob=irrelevant_prob,
                                           noise_std=0.001, threshold_prob=1.0, activations=["identity"],
                                           feature_mix=one_type("gaussian"))  # fmt: skip
        batch = prior.sample(200, 100, 1, torch.Generator().manual_seed(3))
        y = batch.y.gather(1, batch.x[..., 0].argsort(1))  # labels in the order of the feature
        return (y.diff(dim=1) != 0).double().sum(1)  # label changes along x

    # a threshold on a monotone function of one feature: one change (more only where the slope is as small as the
    # noise); pure noise cut at a uniform quantile p: 2 p (1 - p) (n - 1) changes, 33 on average
    assert label_runs(0.0).median() == 1
    assert label_runs(1.0).mean() > 33 - 5 * 30 / math.sqrt(200)


def test_bad_arguments_name_themselves():
    with pytest.raises(ValueError, match="min_classes must be at most num_classes"):
        TabularClassificationPrior(num_classes=3, min_classes=4)
    with pytest.raises(ValueError, match="feature_mix must be 5 probabilities"):
        TabularClassificationPrior(feature_mix=(0.5, 0.5))
    with pytest.raises(ValueError, match="x_distribution is not an argument"):
        TabularClassificationPrior(x_distribution="uniform")
