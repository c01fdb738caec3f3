"""The graphc optimizer a DL4J configuration trains with: its updater with the global hyper-parameters,
learning-rate policy and momentum schedule, DL4J's L1/L2 per layer (only under
`.regularization(True)`, biases by l1_bias/l2_bias) and its gradient normalization per layer.

The updater is one for the whole network (graphc's optimizer is one update graph): a layer that sets
another is refused by name. A layer's own learning_rate / bias_learning_rate is kept: every DL4J
updater's step is linear in the learning rate, so that layer's parameters take the network's step
times (their rate / the network's) (`LayerRates`; the network's learning-rate policy scales it too).
"""
from __future__ import annotations

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.enums import GradientNormalization, LearningRatePolicy, Updater
from graphc.optimizers import clipping, schedules
from graphc.optimizers.adam import Adam
from graphc.optimizers.dl4j_updaters import AdaGrad, AdaMax, Nadam, RmsProp, dl4j
from graphc.optimizers.math import Scalars
from graphc.optimizers.sgd import SGD
from graphc.optimizers.regularization import Regularization, default_is_bias

# DL4J global field -> the graphc.optimizers.dl4j key it sets, per updater
_HYPER = {"momentum": "momentum", "rms_decay": "rho", "rho": "rho", "adam_mean_decay": "beta_1",
          "adam_var_decay": "beta_2", "epsilon": "epsilon"}
_TAKES = {Updater.SGD: (), Updater.NESTEROVS: ("momentum",), Updater.ADAGRAD: ("epsilon",),
          Updater.RMSPROP: ("rms_decay", "epsilon"), Updater.ADADELTA: ("rho", "epsilon"),
          Updater.ADAM: ("adam_mean_decay", "adam_var_decay", "epsilon"),
          Updater.ADAMAX: ("adam_mean_decay", "adam_var_decay", "epsilon"),
          Updater.NADAM: ("adam_mean_decay", "adam_var_decay", "epsilon")}
# parameters that take no L1/L2 besides biases (BatchNormalization's scale and shift)
_UNREGULARIZED = ("gamma", "beta", "moving_mean", "moving_variance")


def learning_rate(conf):
    """The learning rate: a float, or a schedule from DL4J's learning-rate policy."""
    lr, policy = float(conf.learning_rate), conf.learning_rate_policy
    if policy is LearningRatePolicy.NONE:
        if conf.learning_rate_schedule:
            return schedules.MapSchedule(conf.learning_rate_schedule, initial=lr)
        return lr
    decay, steps, power = conf.lr_policy_decay_rate, conf.lr_policy_steps, conf.lr_policy_power
    need = {LearningRatePolicy.EXPONENTIAL: ("lr_policy_decay_rate",),
            LearningRatePolicy.INVERSE: ("lr_policy_decay_rate",),
            LearningRatePolicy.STEP: ("lr_policy_decay_rate", "lr_policy_steps"),
            LearningRatePolicy.POLY: ("lr_policy_power", "lr_policy_steps"),
            LearningRatePolicy.SCHEDULE: ("learning_rate_schedule",)}[policy]
    missing = [k for k in need if getattr(conf, k) is None]
    if missing:
        raise ConfigError(f"learning_rate_policy {policy.name} needs {missing}; set them on "
                          f"NeuralNetConfiguration.Builder()")
    if policy is LearningRatePolicy.EXPONENTIAL:  # lr * decay^iteration
        return schedules.ExponentialDecay(lr, decay_steps=1, decay_rate=float(decay))
    if policy is LearningRatePolicy.INVERSE:  # lr / (1 + decay * iteration)^power
        if power not in (None, 1, 1.0):
            raise ConfigError(f"learning_rate_policy INVERSE with lr_policy_power {power}: only power 1 is built; "
                              f"use power 1 or a SCHEDULE")
        return schedules.InverseTimeDecay(lr, decay_steps=1, decay_rate=float(decay))
    if policy is LearningRatePolicy.STEP:  # lr * decay^floor(iteration / steps)
        return schedules.StepSchedule(lr, float(decay), float(steps))
    if policy is LearningRatePolicy.POLY:  # lr * (1 - iteration / steps)^power
        return schedules.PolynomialDecay(lr, decay_steps=int(steps), end_learning_rate=0.0, power=float(power))
    return schedules.MapSchedule(conf.learning_rate_schedule, initial=lr)


def _check_layers(conf, layers) -> None:
    for layer in layers:
        mine = getattr(layer, "updater", None)
        if mine is not None and mine != conf.updater:
            raise ConfigError(f"{layer.describe()}: updater {mine.name} differs from the network's "
                              f"{conf.updater.name}; graphc trains every layer with one updater: set it on "
                              f"NeuralNetConfiguration.Builder()")


def rate_factors(conf, layers, owners: dict) -> dict:
    """{parameter: its layer's learning rate / the network's} for the parameters whose rate differs."""
    base, out = float(conf.learning_rate), {}
    for name, i in owners.items():
        layer = layers[i]
        lr = layer.learning_rate if layer.learning_rate is not None else base
        if default_is_bias(name) and getattr(layer, "bias_learning_rate", None) is not None:
            lr = layer.bias_learning_rate
        if float(lr) == base:
            continue
        if conf.updater is Updater.ADADELTA:
            raise ConfigError(f"{layer.describe()}: a learning rate of its own under ADADELTA, which has none; "
                              f"leave learning_rate unset on the layer")
        if base == 0.0:
            raise ConfigError(f"{layer.describe()}: learning rate {lr} beside the network's 0; set the network's "
                              f"learning_rate, and the layer's relative to it")
        out[name] = float(lr) / base
    return out


class LayerRates:
    """An updater whose step for some parameters is scaled (`rate_factors`): new = p + f (new - p)."""

    rate_factors: dict = {}

    def build_update(self, em, params, grads, state, step, learning_rate=None, epoch=None, constraints=None):
        new_params, new_state = super().build_update(em, params, grads, state, step, learning_rate, epoch,
                                                     constraints)
        s = Scalars(em)
        for name, f in self.rate_factors.items():
            if name in params:
                new_params[name] = s.add(params[name], s.mul(s.sub(new_params[name], params[name]), f))
        return new_params, new_state

    def get_config(self):
        return {**super().get_config(), "rate_factors": dict(self.rate_factors)}


# one importable class per DL4J updater class (so that a compiled model still pickles)
class RatedSGD(LayerRates, SGD):
    pass


class RatedAdaGrad(LayerRates, AdaGrad):
    pass


class RatedRmsProp(LayerRates, RmsProp):
    pass


class RatedAdam(LayerRates, Adam):
    pass


class RatedAdaMax(LayerRates, AdaMax):
    pass


class RatedNadam(LayerRates, Nadam):
    pass


_RATED = {c.__mro__[2]: c for c in (RatedSGD, RatedAdaGrad, RatedRmsProp, RatedAdam, RatedAdaMax, RatedNadam)}


class LayerRegularization(Regularization):
    """DL4J's L1/L2 with each parameter's coefficients from the layer it belongs to."""

    def __init__(self, coefficients: dict):
        super().__init__()
        self.table = dict(coefficients)  # parameter name -> (l1, l2)

    def coefficients(self, name):
        l1, l2 = self.table.get(name, (0.0, 0.0))
        return l1, l2, 0.0

    def get_config(self):
        return {"table": {k: list(v) for k, v in self.table.items()}}


def regularization(layers, owners: dict):
    """`owners`: parameter name -> index of the DL4J layer that made it. None when nothing regularizes."""
    table = {}
    for name, i in owners.items():
        layer, last = layers[i], name.rsplit("/", 1)[-1]
        if last in _UNREGULARIZED:
            continue
        bias = default_is_bias(name)
        l1 = float((layer.l1_bias if bias else layer.l1) or 0.0)
        l2 = float((layer.l2_bias if bias else layer.l2) or 0.0)
        if l1 or l2:
            table[name] = (l1, l2)
    return LayerRegularization(table) if table else None


def gradient_normalization(layers, owners: dict):
    modes = {(l.gradient_normalization, float(l.gradient_normalization_threshold or 1.0)) for l in layers
             if l.gradient_normalization not in (None, GradientNormalization.NONE)}
    if not modes:
        return None
    if len(modes) > 1:
        raise ConfigError(f"the layers set different gradient normalizations {sorted((m.name, t) for m, t in modes)}; "
                          f"graphc applies one: set it on NeuralNetConfiguration.Builder()")
    (mode, threshold), = modes
    plain = [l.describe() for l in layers if l.gradient_normalization in (None, GradientNormalization.NONE)
             and any(owners[n] == l.index for n in owners)]
    if plain:
        raise ConfigError(f"{plain[0]} has no gradient normalization while others use {mode.name}; graphc applies "
                          f"one to every layer: set it on NeuralNetConfiguration.Builder()")
    return clipping.GradientNormalization(mode.value, threshold, layers={n: str(i) for n, i in owners.items()})


def optimizer(conf, layers, owners: dict):
    """The graphc Optimizer for a cascaded list of DL4J layers; `owners`: parameter -> layer index."""
    _check_layers(conf, layers)
    updater = conf.updater
    kwargs = {"learning_rate": learning_rate(conf)}
    for key in _TAKES[updater]:
        value = getattr(conf, key)
        if value is not None:
            kwargs[_HYPER[key]] = float(value)
    # DL4J's Sgd ignores a momentum schedule; listing 2 sets one beside CONJUGATE_GRADIENT, so beside a
    # line-search algorithm it is ignored as there (under SGD it stays refused: there it would be a mistake)
    line_search = getattr(conf.optimization_algo, "name", "") != "STOCHASTIC_GRADIENT_DESCENT"
    if conf.momentum_after and not (line_search and updater is not Updater.NESTEROVS):
        if updater is not Updater.NESTEROVS:
            raise ConfigError(f"momentum_after {conf.momentum_after} is a Nesterovs setting; the updater is "
                              f"{updater.name}: use .updater(Updater.NESTEROVS)")
        kwargs["momentum"] = schedules.MapSchedule(conf.momentum_after, initial=kwargs.get("momentum", 0.9))
    opt = dl4j(updater, regularization=regularization(layers, owners),
               gradient_normalization=gradient_normalization(layers, owners), **kwargs)
    factors = rate_factors(conf, layers, owners)
    if factors:
        opt.__class__ = _RATED[type(opt)]  # the same optimizer, its step scaled for these parameters
        opt.rate_factors = factors
    return opt
