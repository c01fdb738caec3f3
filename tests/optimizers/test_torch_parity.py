"""SGD (momentum, Nesterov) and Adam/AdamW against PyTorch's `torch.optim` on the same numbers.

The definitions agree where tested: SGD's velocity is Keras's -lr times PyTorch's buffer for a constant
learning rate (dampening 0); Adam's epsilon differs in placement (Keras adds "epsilon hat" to sqrt(v),
PyTorch adds epsilon to sqrt(v / (1 - b2^t))), so Adam is compared in the form where they coincide,
epsilon = 0; AdamW decays as w *= 1 - lr * weight_decay in both.
"""
from __future__ import annotations

import numpy as np
import pytest

import graphc.optimizers as O
from tests.optimizers.helpers import UpdateRunner, assert_close, random_case

torch = pytest.importorskip("torch")

CASES = [
    ("sgd-momentum", O.SGD(learning_rate=0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    ("sgd-nesterov", O.SGD(learning_rate=0.05, momentum=0.8, nesterov=True),
     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True)),
    ("nesterovs-dl4j", O.get("Nesterovs"), lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True)),
    ("adam", O.Adam(learning_rate=0.01, epsilon=0.0), lambda p: torch.optim.Adam(p, lr=0.01, eps=0.0)),
    ("adam-amsgrad", O.Adam(learning_rate=0.01, beta_1=0.8, beta_2=0.99, epsilon=0.0, amsgrad=True),
     lambda p: torch.optim.Adam(p, lr=0.01, betas=(0.8, 0.99), eps=0.0, amsgrad=True)),
    ("adamw", O.AdamW(learning_rate=0.01, weight_decay=0.1, epsilon=0.0),
     lambda p: torch.optim.AdamW(p, lr=0.01, weight_decay=0.1, eps=0.0)),
]


@pytest.mark.parametrize("name,ours,make", CASES, ids=[c[0] for c in CASES])
def test_matches_torch_optim_for_20_steps(name, ours, make):
    params, grads = random_case(100 + [c[0] for c in CASES].index(name))
    tparams = {n: torch.tensor(v.copy(), requires_grad=True) for n, v in params.items()}
    topt = make(list(tparams.values()))
    runner = UpdateRunner(ours, params)
    for i, g in enumerate(grads):
        for n, t in tparams.items():
            t.grad = torch.tensor(g[n])
        topt.step()
        want = {n: t.detach().numpy().copy() for n, t in tparams.items()}
        assert_close(runner.step(g), want, what=f"{name} step {i}")


def test_adam_epsilon_placement_is_keras_not_torch():
    """With a large epsilon the two definitions part (graphc follows Keras: test_keras_parity)."""
    params, grads = random_case(5, steps=3)
    ours = UpdateRunner(O.Adam(learning_rate=0.01, epsilon=0.1), params)
    tparams = {n: torch.tensor(v.copy(), requires_grad=True) for n, v in params.items()}
    topt = torch.optim.Adam(list(tparams.values()), lr=0.01, eps=0.1)
    for g in grads:
        for n, t in tparams.items():
            t.grad = torch.tensor(g[n])
        topt.step()
        ours.step(g)
    diff = max(float(np.max(np.abs(ours.params[n] - tparams[n].detach().numpy()))) for n in params)
    assert diff > 1e-4
