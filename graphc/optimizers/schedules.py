"""Learning-rate (and momentum) schedules evaluated inside the update graph from the step counter.

`schedule(s, step, epoch=None)` takes a `Scalars` and the float32 step value (Keras's `iterations`:
the number of updates applied before this one, 0 on the first) and returns a float32 scalar value.

Keras's schedules keep their formulas, names and config keys: ExponentialDecay, InverseTimeDecay,
PiecewiseConstantDecay, PolynomialDecay, CosineDecay (with warmup), CosineDecayRestarts.
DL4J's: `StepSchedule` (value * decay_rate ** floor(i / step)) and `MapSchedule` ({iteration: value},
the value of the largest key not above the iteration: `learningRateSchedule` and the older
`momentumAfter` maps); both count iterations, or epochs when built with schedule_type="epoch" and the
update graph is given an epoch value.
"""
from __future__ import annotations

import math

import numpy as np

from graphc.errors import GraphcError


class ScheduleError(GraphcError):
    """A schedule configured wrongly, or one graphc does not know."""


class LearningRateSchedule:
    module = "keras.optimizers.schedules"

    def __call__(self, s, step, epoch=None):
        raise NotImplementedError

    def get_config(self) -> dict:
        return dict(self._config)

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


def _positive(name, what, value):
    if not value > 0:
        raise ScheduleError(f"{name}: `{what}` must be > 0, got {value!r}")


class _TimeDecay(LearningRateSchedule):
    """What ExponentialDecay and InverseTimeDecay share: p = step / decay_steps (floored if staircase)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        name = name or type(self).__name__
        _positive(name, "decay_steps", decay_steps)
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            decay_rate=decay_rate, staircase=staircase, name=name)

    def _p(self, s, step):
        p = s.div(step, self._config["decay_steps"])
        return s.unary("Floor", p) if self._config["staircase"] else p


class ExponentialDecay(_TimeDecay):
    def __call__(self, s, step, epoch=None):
        k = self._config
        return s.mul(k["initial_learning_rate"], s.pow(k["decay_rate"], self._p(s, step)))


class InverseTimeDecay(_TimeDecay):
    def __call__(self, s, step, epoch=None):
        k = self._config
        return s.div(k["initial_learning_rate"], s.add(1.0, s.mul(k["decay_rate"], self._p(s, step))))


def _table_lookup(s, x, keys, values, op):
    """values[number of keys k with op(x, k)]: an exact pick from a constant table."""
    if not keys:
        return s.c(values[0])
    em = s.em
    hits = em.op("Cast", s.compare(op, em.op("Unsqueeze", x, em.ints([0], "axes")),
                                   em.const(np.asarray(keys, np.float32), name="schedule_keys")), to=7)
    idx = em.reduce("ReduceSum", hits, [0], keepdims=False)
    return em.op("Gather", em.const(np.asarray(values, np.float32), name="schedule_values"), idx, axis=0)


class PiecewiseConstantDecay(LearningRateSchedule):
    def __init__(self, boundaries, values, name="PiecewiseConstant"):
        if len(boundaries) != len(values) - 1:
            raise ScheduleError(f"{name}: {len(boundaries)} boundaries need {len(boundaries) + 1} values, "
                                f"got {len(values)}")
        self._config = dict(boundaries=list(boundaries), values=list(values), name=name)

    def __call__(self, s, step, epoch=None):
        # values[i] where boundaries[i-1] < step <= boundaries[i]
        return _table_lookup(s, step, self._config["boundaries"], self._config["values"], "Greater")


class PolynomialDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name="PolynomialDecay"):
        _positive(name, "decay_steps", decay_steps)
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps,
                            end_learning_rate=end_learning_rate, power=power, cycle=cycle, name=name)

    def __call__(self, s, step, epoch=None):
        k = self._config
        steps = k["decay_steps"]
        if k["cycle"]:
            mult = s.where(s.compare("Equal", step, 0.0), 1.0, s.unary("Ceil", s.div(step, steps)))
            steps = s.mul(steps, mult)
        else:
            step = s.min(step, steps)
        p = s.div(step, steps)
        delta = float(np.float32(k["initial_learning_rate"]) - np.float32(k["end_learning_rate"]))
        return s.add(s.mul(delta, s.pow(s.sub(1.0, p), k["power"])), k["end_learning_rate"])


class CosineDecay(LearningRateSchedule):
    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name="CosineDecay", warmup_target=None,
                 warmup_steps=0):
        _positive(name, "decay_steps", decay_steps)
        self._config = dict(initial_learning_rate=initial_learning_rate, decay_steps=decay_steps, alpha=alpha,
                            name=name, warmup_target=warmup_target, warmup_steps=warmup_steps)

    def _decay(self, s, step, start):
        k = self._config
        cosine = s.mul(0.5, s.add(1.0, s.unary("Cos", s.mul(math.pi, s.div(step, k["decay_steps"])))))
        return s.mul(start, s.add(s.mul(1 - k["alpha"], cosine), k["alpha"]))

    def __call__(self, s, step, epoch=None):
        k = self._config
        if k["warmup_target"] is None:
            return self._decay(s, s.min(step, k["decay_steps"]), k["initial_learning_rate"])
        warm = k["warmup_steps"]
        step = s.min(step, float(k["decay_steps"]) + float(warm))
        total = float(np.float32(k["warmup_target"]) - np.float32(k["initial_learning_rate"]))
        warmup = s.add(s.mul(total, s.div(step, warm)), k["initial_learning_rate"]) if warm else s.c(0.0)
        decay = self._decay(s, s.sub(step, warm), k["warmup_target"])
        return s.where(s.compare("Less", step, warm), warmup, decay)


class CosineDecayRestarts(LearningRateSchedule):
    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0,
                 name="SGDRDecay"):
        _positive(name, "first_decay_steps", first_decay_steps)
        self._config = dict(initial_learning_rate=initial_learning_rate, first_decay_steps=first_decay_steps,
                            t_mul=t_mul, m_mul=m_mul, alpha=alpha, name=name)

    def __call__(self, s, step, epoch=None):
        k = self._config
        t_mul, alpha = k["t_mul"], k["alpha"]
        frac = s.div(step, k["first_decay_steps"])
        if float(t_mul) == 1.0:
            i_restart = s.unary("Floor", frac)
            frac = s.sub(frac, i_restart)
        else:
            i_restart = s.unary("Floor", s.div(s.unary("Log", s.sub(1.0, s.mul(frac, 1.0 - t_mul))),
                                               float(np.log(np.float32(t_mul)))))
            sum_r = s.div(s.sub(1.0, s.pow(t_mul, i_restart)), 1.0 - t_mul)
            frac = s.div(s.sub(frac, sum_r), s.pow(t_mul, i_restart))
        m_fac = s.pow(k["m_mul"], i_restart)
        cosine = s.mul(s.mul(0.5, m_fac), s.add(1.0, s.unary("Cos", s.mul(math.pi, frac))))
        return s.mul(k["initial_learning_rate"], s.add(s.mul(1 - alpha, cosine), alpha))


class _DL4JSchedule(LearningRateSchedule):
    module = "graphc.optimizers.schedules"

    def _counter(self, step, epoch):
        if self._config["schedule_type"] == "iteration":
            return step
        if epoch is None:
            raise ScheduleError(f"{type(self).__name__} counts epochs: give the update graph an `epoch` value "
                                f"(or build the schedule with schedule_type='iteration')")
        return epoch


def _schedule_type(name, value):
    value = str(value).lower()
    if value not in ("iteration", "epoch"):
        raise ScheduleError(f"{name}: schedule_type must be 'iteration' or 'epoch', got {value!r}")
    return value


class StepSchedule(_DL4JSchedule):
    """DL4J's `StepSchedule`: initial_value * decay_rate ** floor(counter / step)."""

    def __init__(self, initial_value, decay_rate, step, schedule_type="iteration"):
        _positive("StepSchedule", "step", step)
        self._config = dict(initial_value=initial_value, decay_rate=decay_rate, step=step,
                            schedule_type=_schedule_type("StepSchedule", schedule_type))

    def __call__(self, s, step, epoch=None):
        k = self._config
        n = s.unary("Floor", s.div(self._counter(step, epoch), float(k["step"])))
        return s.mul(k["initial_value"], s.pow(k["decay_rate"], n))


class MapSchedule(_DL4JSchedule):
    """DL4J's `MapSchedule`: {counter: value}; the value of the largest key <= counter. Key 0 must be
    there, or `initial` gives the value before the first key (DL4J's `momentumAfter` maps)."""

    def __init__(self, values, schedule_type="iteration", initial=None):
        table = {int(k): float(v) for k, v in dict(values).items()}
        if initial is not None:
            table.setdefault(0, float(initial))
        if 0 not in table:
            raise ScheduleError(f"MapSchedule {values!r}: give a value for counter 0 (or `initial=`)")
        if min(table) < 0:
            raise ScheduleError(f"MapSchedule {values!r}: counters must be >= 0")
        self._config = dict(values={k: table[k] for k in sorted(table)},
                            schedule_type=_schedule_type("MapSchedule", schedule_type))

    def __call__(self, s, step, epoch=None):
        keys = list(self._config["values"])
        return _table_lookup(s, self._counter(step, epoch), keys[1:], list(self._config["values"].values()),
                             "GreaterOrEqual")


CLASSES = {c.__name__: c for c in (ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay,
                                    CosineDecay, CosineDecayRestarts, StepSchedule, MapSchedule)}


def serialize(schedule: LearningRateSchedule) -> dict:
    """Keras's serialized form of a schedule object."""
    return {"module": schedule.module, "class_name": type(schedule).__name__,
            "config": schedule.get_config(), "registered_name": None}


def get(identifier):
    """A schedule from an instance or a Keras-serialized dict (`{"class_name": ..., "config": ...}`)."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        name = identifier.get("class_name")
        cls = CLASSES.get(name)
        if cls is None:
            raise ScheduleError(f"unknown learning-rate schedule {name!r}; known: {sorted(CLASSES)}")
        try:
            return cls.from_config(dict(identifier.get("config") or {}))
        except TypeError as e:
            raise ScheduleError(f"schedule config for {name!r} has keys graphc does not know: {e}") from None
    raise ScheduleError(f"cannot make a schedule from {identifier!r} ({type(identifier).__name__})")
