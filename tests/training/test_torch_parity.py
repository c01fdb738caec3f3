"""graphc's train step against PyTorch eager: the same initial weights, batches and optimizer give the
same loss after every step (relative 1e-4), for an MLP and a small CNN, SGD with momentum and Adam."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from graphc import nn, optimizers  # noqa: E402

STEPS = 30


def _data(shape, classes, n=STEPS * 16, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, np.eye(classes, dtype=np.float32)[y]


def _mlp():
    return nn.Sequential([nn.Input((20,)), nn.Dense(32, activation="relu"), nn.Dense(16, activation="tanh"),
                          nn.Dense(5, activation="softmax")])


def _torch_mlp(model):
    layers = [l for l in model.layers if isinstance(l, nn.Dense)]
    mods = []
    for l, act in zip(layers, [torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Softmax(-1)]):
        k, b = l.get_weights()
        lin = torch.nn.Linear(*k.shape)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(k.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin, act]
    return torch.nn.Sequential(*mods)


def _cnn():
    return nn.Sequential([nn.Input((8, 8, 2)), nn.Conv2D(4, 3, activation="relu"), nn.MaxPooling2D(2),
                          nn.Flatten(), nn.Dense(3, activation="softmax")])


class _TorchCNN(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        conv, dense = [l for l in model.layers if isinstance(l, (nn.Conv2D, nn.Dense))]
        k, b = conv.get_weights()
        self.conv = torch.nn.Conv2d(2, 4, 3)
        kd, bd = dense.get_weights()
        self.dense = torch.nn.Linear(*kd.shape)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(k.transpose(3, 2, 0, 1).copy()))
            self.conv.bias.copy_(torch.from_numpy(b))
            self.dense.weight.copy_(torch.from_numpy(kd.T.copy()))
            self.dense.bias.copy_(torch.from_numpy(bd))

    def forward(self, x):  # x channels-last, as Keras
        h = torch.relu(self.conv(x.permute(0, 3, 1, 2)))
        h = torch.nn.functional.max_pool2d(h, 2).permute(0, 2, 3, 1).flatten(1)  # Keras's Flatten order
        return torch.softmax(self.dense(h), -1)


# Keras puts Adam's epsilon outside the bias correction of v, PyTorch inside: a tiny epsilon makes
# the two rules the same
OPTIMIZERS = {
    "sgd_momentum": (lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "adam": (lambda: optimizers.Adam(learning_rate=0.01, epsilon=1e-12),
             lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-12)),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("arch", ["mlp", "cnn"])
def test_same_loss_every_step(arch, opt):
    model = _mlp() if arch == "mlp" else _cnn()
    ref = _torch_mlp(model) if arch == "mlp" else _TorchCNN(model)
    x, y = _data((20,) if arch == "mlp" else (8, 8, 2), 5 if arch == "mlp" else 3)
    ours, theirs = OPTIMIZERS[opt]
    model.compile(optimizer=ours(), loss="categorical_crossentropy")
    topt = theirs(ref.parameters())
    for i in range(STEPS):
        xb, yb = x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]
        loss = model.train_on_batch(xb, yb)
        topt.zero_grad()
        p = torch.clamp(ref(torch.from_numpy(xb)), 1e-7, 1 - 1e-7)  # Keras's clipped cross-entropy
        tl = -(torch.from_numpy(yb) * torch.log(p)).sum(-1).mean()
        tl.backward()
        topt.step()
        assert loss == pytest.approx(tl.item(), rel=1e-4), f"step {i}"
