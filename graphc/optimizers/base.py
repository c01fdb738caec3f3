"""`Optimizer`: the shared part of every updater, which builds an *update graph*.

`build_update(em, params, grads, state, step)` emits, with standard ONNX ops, the parameters and
optimizer state after one step, from values of `em`'s graph: parameters and gradients by name, the
state by the names `init_state` gave, and the step (Keras's `iterations`: updates applied before this
one, an integer or float scalar). The graph runs apart (a Spark driver applies it to accumulated
gradients) or fused into a train step. What one step does, in order:

1. DL4J gradient normalization (`gradient_normalization=`), then Keras's `clipnorm` /
   `global_clipnorm` / `clipvalue`, then `loss_scale_factor` unscaling;
2. DL4J L1/L2 added to the gradients (`regularization=`);
3. decoupled weight decay on the parameters (Keras's `weight_decay`, minus `exclude_from_weight_decay`,
   and DL4J's `WeightDecay` through `regularization=`);
4. the updater's rule (subclasses' `_update`), with the learning rate from the constant, the
   schedule, or a `learning_rate` value given to `build_update` (a trainer's adjustable rate);
5. Keras constraints (`constraints={name: Constraint}`) projecting the new parameters.

State names: `<param>/<slot>` with Keras's slot names (`momentum`, `velocity`, ...), and
`optimizer/<name>` for state shared by all parameters (Nadam's `u_product`). Float32 parameters.
"""
from __future__ import annotations

import numpy as np

from graphc.errors import GraphcError
from graphc.nn.base import snake_case
from graphc.optimizers import schedules as S
from graphc.optimizers.clipping import GradientNormalization, keras_clip
from graphc.optimizers.math import F32, Scalars, is_value
from graphc.optimizers.regularization import Exclusion, Regularization, decay_factor

GLOBAL = "optimizer"


class OptimizerError(GraphcError):
    """An optimizer configured wrongly, or given parameters, gradients or state that do not fit."""


class Optimizer:
    """Base class: Keras's constructor keys; subclasses give `slots`, `_update` and their own keys."""

    slot_names: tuple[str, ...] = ()
    hyper_keys: tuple[str, ...] = ()  # subclass config keys, in Keras's order

    def __init__(self, learning_rate=0.001, weight_decay=None, clipnorm=None, clipvalue=None, global_clipnorm=None,
                 use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None, loss_scale_factor=None,
                 gradient_accumulation_steps=None, name=None, regularization=None, gradient_normalization=None,
                 **kwargs):
        what = type(self).__name__
        kwargs.pop("decay", None)  # Keras ignores it too
        if kwargs:
            raise OptimizerError(f"optimizer {what}: unknown arguments {sorted(kwargs)}")
        if sum(a is not None for a in (clipnorm, clipvalue, global_clipnorm)) > 1:
            raise OptimizerError(f"optimizer {what}: give only one of clipnorm, clipvalue and global_clipnorm "
                                 f"(got clipnorm={clipnorm}, clipvalue={clipvalue}, "
                                 f"global_clipnorm={global_clipnorm})")
        if use_ema or gradient_accumulation_steps:
            raise OptimizerError(f"optimizer {what}: use_ema and gradient_accumulation_steps are not built by "
                                 f"graphc's update graph; leave them unset")
        if isinstance(learning_rate, dict):
            learning_rate = S.get(learning_rate)
        if not isinstance(learning_rate, S.LearningRateSchedule):
            if isinstance(learning_rate, bool) or not isinstance(learning_rate, (int, float, np.floating)):
                raise OptimizerError(f"optimizer {what}: learning_rate must be a float or a schedule, "
                                     f"got {learning_rate!r}")
            learning_rate = float(learning_rate)
        self.learning_rate = learning_rate
        self.weight_decay, self.clipnorm, self.clipvalue = weight_decay, clipnorm, clipvalue
        self.global_clipnorm, self.loss_scale_factor = global_clipnorm, loss_scale_factor
        self.use_ema, self.ema_momentum, self.ema_overwrite_frequency = use_ema, ema_momentum, ema_overwrite_frequency
        self.gradient_accumulation_steps = gradient_accumulation_steps
        self.name = name or snake_case(what)
        if isinstance(regularization, dict):
            regularization = Regularization.from_config(regularization)
        if isinstance(gradient_normalization, (str, dict)):
            gradient_normalization = (GradientNormalization.from_config(gradient_normalization)
                                      if isinstance(gradient_normalization, dict)
                                      else GradientNormalization(gradient_normalization))
        self.regularization, self.gradient_normalization = regularization, gradient_normalization
        self._exclusion = Exclusion()

    # ---- what subclasses write ---------------------------------------------------------
    def slots(self) -> tuple[str, ...]:
        return self.slot_names

    def slot_groups(self) -> tuple[tuple[str, ...], ...]:
        """The slots in the order Keras creates them: a group's slots interleaved per parameter."""
        return (self.slots(),)

    def slot_init(self, slot: str) -> float:
        return 0.0

    def global_state(self) -> dict[str, np.ndarray]:
        return {}

    def _prepare(self, s, state, t, lr, epoch=None) -> tuple[dict, dict]:
        """Per-step scalars shared by every parameter, and the new shared state."""
        return {}, {}

    def _update(self, s, p, g, slots: dict, lr, shared: dict):
        """(new parameter, {slot: new value}) for one parameter."""
        raise NotImplementedError

    # ---- Keras's API -----------------------------------------------------------------------
    def exclude_from_weight_decay(self, var_list=None, var_names=None):
        """Parameters left out of `weight_decay`: exact names, and substrings (regexes) of names."""
        self._exclusion = Exclusion(var_list, var_names)

    # ---- state --------------------------------------------------------------------------------
    def init_state(self, params: dict) -> dict[str, np.ndarray]:
        """The optimizer state before the first step for parameters {name: array or shape}."""
        state = {}
        for name, p in params.items():
            shape = tuple(p) if isinstance(p, tuple) else np.shape(p)
            for slot in self.slots():
                state[f"{name}/{slot}"] = np.full(shape, self.slot_init(slot), np.float32)
        state.update(self.global_state())
        return state

    def keras_variables(self, param_names) -> list[str]:
        """State names in the order of Keras's `optimizer.variables` (what a `.keras` file saves under
        `optimizer/vars`), with Keras's own "iteration" and, for a constant rate, "learning_rate"."""
        names = ["iteration"] + ([] if isinstance(self.learning_rate, S.LearningRateSchedule) else ["learning_rate"])
        for group in self.slot_groups():
            names += [f"{p}/{slot}" for p in param_names for slot in group]
        return names + list(self.global_state())

    # ---- the update graph -----------------------------------------------------------------------
    def build_update(self, em, params: dict, grads: dict, state: dict, step, learning_rate=None, epoch=None,
                     constraints=None):
        """(new parameters, new state): dicts of values of `em`'s graph, same keys as given."""
        self._check(em, params, grads, state)
        s = Scalars(em)
        t = s.to_float(step)
        ep = s.to_float(epoch) if epoch is not None else None
        lr = s.to_float(learning_rate) if learning_rate is not None else self.hyper(s, self.learning_rate, t, ep)
        grads = {n: grads[n] for n in params}
        if self.gradient_normalization is not None:
            grads = self.gradient_normalization(s, grads)
        grads = keras_clip(s, grads, self.clipnorm, self.clipvalue, self.global_clipnorm)
        if self.loss_scale_factor:
            grads = {n: s.div(g, self.loss_scale_factor) for n, g in grads.items()}
        shared, new_state = self._prepare(s, state, t, lr, ep)
        factors = {}  # decay factors by (coefficient, apply_lr): built once a step

        def decayed(p, coeff, apply_lr=True):
            if (coeff, apply_lr) not in factors:
                factors[coeff, apply_lr] = decay_factor(s, lr, coeff, apply_lr)
            return s.mul(p, factors[coeff, apply_lr])

        new_params = {}
        for name, p in params.items():
            g = grads[name]
            reg = self.regularization
            if reg is not None:
                g = reg.gradient(s, name, p, g)
            if self.weight_decay and not self._exclusion.excluded(name):
                p = decayed(p, self.weight_decay)
            if reg is not None and reg.coefficients(name)[2]:
                p = decayed(p, reg.coefficients(name)[2], reg.apply_lr)
            slots = {slot: state[f"{name}/{slot}"] for slot in self.slots()}
            p, slots = self._update(s, p, g, slots, lr, shared)
            if constraints and constraints.get(name) is not None:
                p = constraints[name].project(em, p)
            new_params[name] = p
            new_state.update({f"{name}/{slot}": v for slot, v in slots.items()})
        return new_params, {k: new_state[k] for k in state}

    def hyper(self, s, value, t, epoch=None):
        """A hyper-parameter's value this step: a constant or a schedule evaluated from the step."""
        if isinstance(value, S.LearningRateSchedule):
            return value(s, t, epoch)
        return s.c(value)

    def _check(self, em, params, grads, state):
        what = f"optimizer {self.name!r} ({type(self).__name__})"
        missing = [n for n in params if n not in grads]
        if missing:
            raise OptimizerError(f"{what}: no gradient for parameters {missing}; give one gradient per parameter "
                                 f"(or leave frozen parameters out of `params`)")
        expected = set(self.init_state({n: _static_shape(em, v) for n, v in params.items()}))
        if set(state) != expected:
            raise OptimizerError(f"{what}: state entries {sorted(set(state) ^ expected)} do not match the "
                                 f"parameters; build the state with init_state(params)")
        for n, v in params.items():
            if not is_value(v) or not is_value(grads[n]):
                raise OptimizerError(f"{what}: parameter {n!r} and its gradient must be graph values")
            tp, tg = em.type(v), em.type(grads[n])
            if np.dtype(tp.dtype) != F32 or np.dtype(tg.dtype) != F32:
                raise OptimizerError(f"{what}: parameter {n!r} is {np.dtype(tp.dtype).name} with a "
                                     f"{np.dtype(tg.dtype).name} gradient; the update graph is float32")
            if tuple(tp.shape) != tuple(tg.shape):
                raise OptimizerError(f"{what}: parameter {n!r} has shape {tuple(tp.shape)} but its gradient "
                                     f"{tuple(tg.shape)}")

    # ---- Keras config ------------------------------------------------------------------------------
    def get_config(self) -> dict:
        lr = self.learning_rate
        config = {
            "name": self.name,
            "learning_rate": S.serialize(lr) if isinstance(lr, S.LearningRateSchedule) else lr,
            "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
            "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue,
            "use_ema": self.use_ema, "ema_momentum": self.ema_momentum,
            "ema_overwrite_frequency": self.ema_overwrite_frequency,
            "loss_scale_factor": self.loss_scale_factor,
            "gradient_accumulation_steps": self.gradient_accumulation_steps,
        }
        for key in self.hyper_keys:
            v = getattr(self, key)
            config[key] = S.serialize(v) if isinstance(v, S.LearningRateSchedule) else v
        # graphc's DL4J settings, only when set (a plain Keras config stays Keras's)
        if self.regularization is not None:
            config["regularization"] = self.regularization.get_config()
        if self.gradient_normalization is not None:
            config["gradient_normalization"] = self.gradient_normalization.get_config()
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        for key in ("learning_rate", *cls.hyper_keys):
            if isinstance(config.get(key), dict):
                config[key] = S.get(config[key])
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


def _static_shape(em, v):
    return tuple(em.shape(v)) if is_value(v) else tuple(np.shape(v))


