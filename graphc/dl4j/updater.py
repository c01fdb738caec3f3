"""The graphc optimizer a DL4J configuration trains with: its updater with the global hyper-parameters,
learning-rate policy and momentum schedule, DL4J's L1/L2 per layer (only under
`.regularization(True)`, biases by l1_bias/l2_bias) and its gradient normalization per layer.

The updater and its learning rate are one for the whole network here (graphc's optimizer is one
update graph): a layer that sets a different updater or learning rate is refused by name.
"""
from __future__ import annotations

from graphc.dl4j.builder import ConfigError
from graphc.dl4j.enums import GradientNormalization, LearningRatePolicy, Updater
from graphc.optimizers import clipping, schedules
from graphc.optimizers.dl4j_updaters import dl4j
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
        for key, want in (("updater", conf.updater), ("learning_rate", conf.learning_rate),
                          ("bias_learning_rate", conf.bias_learning_rate)):
            mine = getattr(layer, key, None)
            if key == "bias_learning_rate" and mine is None:
                continue
            if mine is not None and mine != want and not (key == "bias_learning_rate" and mine == conf.learning_rate):
                raise ConfigError(f"{layer.describe()}: {key} {getattr(mine, 'name', mine)} differs from the "
                                  f"network's {getattr(want, 'name', want)}; graphc trains every layer with one "
                                  f"updater and learning rate: set it on NeuralNetConfiguration.Builder()")


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
    return dl4j(updater, regularization=regularization(layers, owners),
                gradient_normalization=gradient_normalization(layers, owners), **kwargs)
