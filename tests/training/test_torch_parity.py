"""graphc's train step against PyTorch eager: the same initial weights, batches and optimizer give the
same loss after every one of 50 steps (relative 1e-4), for an MLP, a small CNN with
BatchNormalization (batch statistics in training) and an LSTM, with SGD-momentum and with Adam."""
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from graphc import nn, optimizers  # noqa: E402

STEPS, BATCH = 50, 16


def _data(shape, classes, n=STEPS * BATCH, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n,) + shape).astype(np.float32)
    y = rng.integers(0, classes, n)
    return x, np.eye(classes, dtype=np.float32)[y]


def _copy(param, array):
    with torch.no_grad():
        param.copy_(torch.from_numpy(np.ascontiguousarray(array)))


def _linear(dense):
    k, b = dense.get_weights()
    lin = torch.nn.Linear(*k.shape)
    _copy(lin.weight, k.T)
    _copy(lin.bias, b)
    return lin


def _mlp():
    return nn.Sequential([nn.Input((20,)), nn.Dense(32, activation="relu"), nn.Dense(16, activation="tanh"),
                          nn.Dense(5, activation="softmax")])


def _torch_mlp(model):
    layers = [l for l in model.layers if isinstance(l, nn.Dense)]
    mods = []
    for l, act in zip(layers, [torch.nn.ReLU(), torch.nn.Tanh(), torch.nn.Softmax(-1)]):
        mods += [_linear(l), act]
    return torch.nn.Sequential(*mods)


def _cnn():
    return nn.Sequential([nn.Input((8, 8, 2)), nn.Conv2D(4, 3), nn.BatchNormalization(), nn.Activation("relu"),
                          nn.MaxPooling2D(2), nn.Flatten(), nn.Dense(3, activation="softmax")])


class _TorchCNN(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        conv, bn, dense = [l for l in model.layers if isinstance(l, (nn.Conv2D, nn.BatchNormalization, nn.Dense))]
        k, b = conv.get_weights()
        self.conv = torch.nn.Conv2d(2, 4, 3)
        _copy(self.conv.weight, k.transpose(3, 2, 0, 1))
        _copy(self.conv.bias, b)
        # Keras's momentum weighs the old moving average, torch's the new batch statistic
        self.bn = torch.nn.BatchNorm2d(4, eps=bn.epsilon, momentum=1 - bn.momentum)
        for p, v in zip([self.bn.weight, self.bn.bias, self.bn.running_mean, self.bn.running_var], bn.get_weights()):
            _copy(p, v)
        self.dense = _linear(dense)

    def forward(self, x):  # x channels-last, as Keras
        h = torch.relu(self.bn(self.conv(x.permute(0, 3, 1, 2))))
        h = torch.nn.functional.max_pool2d(h, 2).permute(0, 2, 3, 1).flatten(1)  # Keras's Flatten order
        return torch.softmax(self.dense(h), -1)


def _lstm():
    return nn.Sequential([nn.Input((6, 3)), nn.LSTM(8), nn.Dense(4, activation="softmax")])


class _TorchLSTM(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        lstm, dense = [l for l in model.layers if isinstance(l, (nn.LSTM, nn.Dense))]
        k, rk, b = lstm.get_weights()
        self.lstm = torch.nn.LSTM(k.shape[0], rk.shape[0], batch_first=True)
        # both order the gates input, forget, cell, output; Keras has one bias, torch two: the
        # second stays zero and out of training (its gradient equals the first's, doubling the step)
        _copy(self.lstm.weight_ih_l0, k.T)
        _copy(self.lstm.weight_hh_l0, rk.T)
        _copy(self.lstm.bias_ih_l0, b)
        _copy(self.lstm.bias_hh_l0, np.zeros_like(b))
        self.lstm.bias_hh_l0.requires_grad_(False)
        self.dense = _linear(dense)

    def forward(self, x):
        y, _ = self.lstm(x)
        return torch.softmax(self.dense(y[:, -1]), -1)


CASES = {
    "mlp": (_mlp, _torch_mlp, (20,), 5),
    "cnn_bn": (_cnn, _TorchCNN, (8, 8, 2), 3),
    "lstm": (_lstm, _TorchLSTM, (6, 3), 4),
}

# Keras puts Adam's epsilon outside the bias correction of v, PyTorch inside: a tiny epsilon makes
# the two rules the same
OPTIMIZERS = {
    "sgd_momentum": (lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
                     lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "adam": (lambda: optimizers.Adam(learning_rate=0.01, epsilon=1e-12),
             lambda p: torch.optim.Adam(p, lr=0.01, eps=1e-12)),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
@pytest.mark.parametrize("arch", sorted(CASES))
def test_same_loss_every_step(arch, opt):
    build, build_ref, shape, classes = CASES[arch]
    model = build()
    ref = build_ref(model)
    ref.train()
    x, y = _data(shape, classes)
    ours, theirs = OPTIMIZERS[opt]
    model.compile(optimizer=ours(), loss="categorical_crossentropy")
    topt = theirs([p for p in ref.parameters() if p.requires_grad])
    worst = 0.0
    for i in range(STEPS):
        xb, yb = x[i * BATCH:(i + 1) * BATCH], y[i * BATCH:(i + 1) * BATCH]
        loss = model.train_on_batch(xb, yb)
        topt.zero_grad()
        p = torch.clamp(ref(torch.from_numpy(xb)), 1e-7, 1 - 1e-7)  # Keras's clipped cross-entropy
        tl = -(torch.from_numpy(yb) * torch.log(p)).sum(-1).mean()
        tl.backward()
        topt.step()
        worst = max(worst, abs(loss - tl.item()) / abs(tl.item()))
        assert loss == pytest.approx(tl.item(), rel=1e-4), f"step {i}"
    print(f"{arch}/{opt}: worst relative loss difference over {STEPS} steps {worst:.2e}")
