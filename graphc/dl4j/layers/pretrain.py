"""The pretrainable layers: `AutoEncoder` (denoising, tied weights) and `RBM` (contrastive divergence).

Both are feed-forward layers of the network (`to_nn`: a graphc.nn Dense, the encoder / the hidden
units' mean), and each has an unsupervised form that shares that Dense's kernel and bias, so that
pretraining writes straight into the network's weights:

- `TiedAutoEncoder` (DL4J's AutoEncoder): y = f(x W + b), z = f(y W^T + vb), the loss (RMSE_XENT, MSE,
  XENT, ...) between the clean input and z. DL4J's corruption is masking noise: each input kept with
  probability 1 - corruption_level, else zeroed (not rescaled); it is drawn per batch into the data
  (`corrupt`), so that a line search sees one objective. `sparsity` rho > 0 adds the KL penalty
  sum_j KL(rho || mean_batch(y_j)) (for sigmoid units) to the loss. The gradient is the loss's own
  (autodiff); DL4J's AutoEncoder scored with the loss but stepped along a hand-written
  cross-entropy-style gradient, which a line search cannot use: its slopes would not be the score's.
- `cd_graph` (DL4J's RBM): CD-k is no loss's gradient, so it is a graph of its own. Given v0 it samples
  h0 ~ p(h | v0), runs k Gibbs steps v_i ~ p(v | h_{i-1}), h_i ~ p(h | v_i), and outputs, per parameter,
  minus (positive - negative phase statistics) over the batch size, the descent direction an optimizer
  applies:  grad W = -(v0^T p(h|v0) - v_k^T p(h|v_k)) / n,  grad hb = -mean(p(h|v0) - p(h|v_k)),
  grad vb = -mean(v0 - v_k), with v_k the visible sample (as DL4J's nvSamples) and p(h|.) the hidden
  means; with `sparsity` rho > 0 the hidden bias's statistic is DL4J's sum(rho - p(h|v0)). The draws
  are ONNX RandomUniformLike / RandomNormalLike ops, seeded by place (graphc.training.step's
  seed_random_ops); `with_draws=True` also outputs them (`draw:<i>`), which is how the update is
  checked against a numpy CD-k given the same draws.

Units (propUp / propDown): BINARY mean sigmoid(a), sample Bernoulli; GAUSSIAN mean a, sample a + N(0, 1)
(LINEAR is the same mean); RECTIFIED mean max(0, a), sample max(0, a + N(0, sigmoid(a))) (Nair and
Hinton's noisy ReLU, DL4J's RECTIFIED); SOFTMAX (hidden or visible) mean softmax(a), sampled as its mean.
"""
from __future__ import annotations

import enum

import numpy as np

from graphc.dl4j.builder import ConfigError, Field, enum_coercer
from graphc.dl4j.enums import LossFunction, loss_coercer
from graphc.dl4j.layers.base import FeedForwardLayerConf
from graphc.ir import Graph
from graphc.training.step import seed_random_ops
from graphc.nn.base import BATCH, Emitter, Layer
from graphc.nn.regularization import _random  # the opset the Random*Like ops run at
from graphc.types import TensorType

F32 = np.dtype(np.float32)


class VisibleUnit(enum.Enum):
    BINARY = "binary"
    GAUSSIAN = "gaussian"
    LINEAR = "linear"
    RECTIFIED = "rectified"
    SOFTMAX = "softmax"


class HiddenUnit(enum.Enum):
    BINARY = "binary"
    GAUSSIAN = "gaussian"
    RECTIFIED = "rectified"
    SOFTMAX = "softmax"


class BasePretrainNetwork(FeedForwardLayerConf):
    FIELDS = {"loss_function": Field(LossFunction.RMSE_XENT, loss_coercer), "visible_bias_init": 0.0,
              "sparsity": 0.0}
    is_pretrainable = True

    def _dense(self, activation):
        from graphc.nn import Dense

        act, extra = self.nn_activation() if activation is None else (activation, None)
        dense = Dense(int(self.n_out), activation=act, name=self.nn_name(),
                      kernel_initializer=self.kernel_initializer(), bias_initializer=self.bias_initializer())
        return self.dropout_layers() + [dense] + ([extra] if extra is not None else [])

    def validate(self):
        super().validate()
        if not 0.0 <= float(self.sparsity or 0.0) < 1.0:
            raise ConfigError(f"{self.describe()}: sparsity is a target mean activation in [0, 1), got "
                              f"{self.sparsity}")


class AutoEncoder(BasePretrainNetwork):
    FIELDS = {"corruption_level": 0.3}

    def to_nn(self, input_type):
        return self._dense(None)

    def validate(self):
        super().validate()
        from graphc.dl4j.enums import Activation

        if self.activation in (Activation.LEAKYRELU, Activation.CUBE):  # a layer after the Dense: no tied decoder
            raise ConfigError(f"{self.describe()}: an AutoEncoder's activation is also its decoder's; "
                              f"{self.activation.name} is not built for that: use sigmoid, tanh, relu, ...")
        if not 0.0 <= float(self.corruption_level) < 1.0:
            raise ConfigError(f"{self.describe()}: corruption_level is the fraction of inputs zeroed, in [0, 1); "
                              f"got {self.corruption_level}")


class RBM(BasePretrainNetwork):
    FIELDS = {"hidden_unit": Field(HiddenUnit.BINARY, enum_coercer(HiddenUnit)),
              "visible_unit": Field(VisibleUnit.BINARY, enum_coercer(VisibleUnit)), "k": 1}
    POSITIONAL = ("hidden_unit", "visible_unit")

    def to_nn(self, input_type):
        # the supervised form is DL4J's propUp: the hidden units' mean
        act = {HiddenUnit.BINARY: "sigmoid", HiddenUnit.GAUSSIAN: "linear", HiddenUnit.RECTIFIED: "relu",
               HiddenUnit.SOFTMAX: "softmax"}[self.hidden_unit]
        return self._dense(act)

    def validate(self):
        super().validate()
        if int(self.k) < 1:
            raise ConfigError(f"{self.describe()}: k (Gibbs steps of CD-k) must be >= 1, got {self.k}")


# ---- the autoencoder's unsupervised form -----------------------------------------------------------
def corrupt(x, level, rng):
    """DL4J's masking noise: each input kept with probability 1 - level, else 0."""
    if not level:
        return x
    return (x * (rng.random(x.shape) >= level)).astype(np.float32)


class TiedAutoEncoder(Layer):
    """Encoder `dense` (a built graphc.nn Dense, its weights shared) and its tied decoder."""

    def __init__(self, dense, activation, visible_bias_init=0.0, sparsity=0.0, **kwargs):
        super().__init__(**kwargs)
        from graphc.nn import activations

        self.dense, self.activation = dense, activations.get(activation)
        self.visible_bias_init, self.sparsity = float(visible_bias_init), float(sparsity or 0.0)

    def sublayers(self):
        return [("encoder", self.dense)]

    def build(self, input_shape):
        from graphc.nn.initializers import Constant

        self.keras_objects["visible_bias_initializer"] = Constant(self.visible_bias_init)
        self.visible_bias = self.add_weight("visible_bias", (input_shape[-1],))

    def call(self, em, x, mask=None):
        from graphc.nn import activations

        d = self.dense
        y = activations.apply(em, d.activation, em.op("Add", em.op("MatMul", x, em.weight(d.kernel)),
                                                        em.weight(d.bias)))
        w_t = em.op("Transpose", em.weight(d.kernel), perm=[1, 0])
        z = activations.apply(em, self.activation, em.op("Add", em.op("MatMul", y, w_t), em.weight(self.visible_bias)))
        if self.sparsity and em.training:
            em.losses.append(_kl_sparsity(em, y, self.sparsity))
        return z


def _kl_sparsity(em, y, rho):
    """sum_j KL(rho || rho_j), rho_j the batch mean of hidden unit j (clipped away from 0 and 1)."""
    c = lambda v: em.const(np.float32(v))  # noqa: E731
    mean = em.op("Clip", em.reduce("ReduceMean", y, [0], keepdims=False), c(1e-6), c(1 - 1e-6))
    kl = em.op("Add", em.op("Mul", c(rho), em.op("Log", em.op("Div", c(rho), mean))),
               em.op("Mul", c(1 - rho), em.op("Log", em.op("Div", c(1 - rho), em.op("Sub", c(1.0), mean)))))
    return em.reduce("ReduceSum", kl, [0], keepdims=False)


# ---- the RBM's contrastive divergence -----------------------------------------------------------------
def _mean(em, unit, a):
    if unit in (HiddenUnit.BINARY, VisibleUnit.BINARY):
        return em.op("Sigmoid", a)
    if unit in (HiddenUnit.RECTIFIED, VisibleUnit.RECTIFIED):
        return em.op("Relu", a)
    if unit in (HiddenUnit.SOFTMAX, VisibleUnit.SOFTMAX):
        return em.op("Softmax", a, axis=-1)
    return a  # GAUSSIAN, LINEAR


def _sample(em, unit, a, mean, draws):
    """A sample of the units with pre-activation `a` and mean `mean`; the random tensor joins `draws`."""
    if unit in (HiddenUnit.BINARY, VisibleUnit.BINARY):
        u = _random(em, "RandomUniformLike", mean, None, low=0.0, high=1.0)
        draws.append(u)
        return em.op("Cast", em.op("Less", u, mean), to=1)
    if unit in (HiddenUnit.SOFTMAX, VisibleUnit.SOFTMAX):
        return mean
    n = _random(em, "RandomNormalLike", mean, None, mean=0.0, scale=1.0)
    draws.append(n)
    if unit in (HiddenUnit.RECTIFIED, VisibleUnit.RECTIFIED):
        return em.op("Relu", em.op("Add", a, em.op("Mul", n, em.op("Sqrt", em.op("Sigmoid", a)))))
    return em.op("Add", mean, n)


def cd_graph(n_visible, n_hidden, k=1, hidden_unit=HiddenUnit.BINARY, visible_unit=VisibleUnit.BINARY,
             with_draws=False, seed=0, sparsity=0.0, name="rbm_cd") -> Graph:
    """The CD-k graph. Inputs: `v0` [batch, n_visible], `W` [n_visible, n_hidden], `hb` [n_hidden],
    `vb` [n_visible]. Outputs: `grad:W`, `grad:hb`, `grad:vb`, `reconstruction_error` (mean over the batch
    of ||v0 - E[v | E[h | v0]]||^2, at the given parameters), then with `with_draws` every draw."""
    g = Graph(name)
    em = Emitter(g)
    v0 = g.add_input("v0", TensorType(F32, (BATCH, n_visible)))
    W = g.add_input("W", TensorType(F32, (n_visible, n_hidden)))
    hb = g.add_input("hb", TensorType(F32, (n_hidden,)))
    vb = g.add_input("vb", TensorType(F32, (n_visible,)))
    w_t = em.op("Transpose", W, perm=[1, 0])
    up = lambda v: em.op("Add", em.op("MatMul", v, W), hb)  # noqa: E731
    down = lambda h: em.op("Add", em.op("MatMul", h, w_t), vb)  # noqa: E731
    draws = []
    a0 = up(v0)
    ph0 = _mean(em, hidden_unit, a0)
    h = _sample(em, hidden_unit, a0, ph0, draws)
    for _ in range(int(k)):
        av = down(h)
        v = _sample(em, visible_unit, av, _mean(em, visible_unit, av), draws)
        ah = up(v)
        phk = _mean(em, hidden_unit, ah)
        h = _sample(em, hidden_unit, ah, phk, draws)
    n = em.op("Cast", em.reshape(em.slice(em.op("Shape", v0), [0], [1], [0]), []), to=1)
    inv_n = em.op("Div", em.const(np.float32(1.0)), n)
    neg = lambda t: em.op("Mul", t, em.op("Neg", inv_n))  # noqa: E731  -(statistic) / n
    pos_w = em.op("Gemm", v0, ph0, transA=1)
    neg_w = em.op("Gemm", v, phk, transA=1)
    g.add_output("grad:W", neg(em.op("Sub", pos_w, neg_w)))
    # DL4J's sparsity target replaces the hidden bias's statistic: sum(rho - p(h|v0)) instead
    hb_stat = em.op("Sub", em.const(np.float32(sparsity)), ph0) if sparsity else em.op("Sub", ph0, phk)
    g.add_output("grad:hb", neg(em.reduce("ReduceSum", hb_stat, [0], keepdims=False)))
    g.add_output("grad:vb", neg(em.reduce("ReduceSum", em.op("Sub", v0, v), [0], keepdims=False)))
    recon = _mean(em, visible_unit, down(ph0))
    err = em.op("Sub", v0, recon)
    g.add_output("reconstruction_error", em.op("Mul", em.reduce("ReduceSum", em.op("Mul", err, err), [0, 1],
                                                               keepdims=False), inv_n))
    if with_draws:
        for i, d in enumerate(draws):
            g.add_output(f"draw:{i}", em.op("Identity", d))
    seed_random_ops(g, seed)
    g.verify()
    return g


__all__ = ["AutoEncoder", "BasePretrainNetwork", "HiddenUnit", "RBM", "TiedAutoEncoder", "VisibleUnit", "cd_graph",
           "corrupt"]
