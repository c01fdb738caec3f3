"""ConvolutionLayer and SubsamplingLayer (max, avg, sum, pnorm) on NCHW data, as graphc.nn's
channels_first Conv2D / pooling (with ZeroPadding2D for DL4J's explicit padding).

Output sizes follow DL4J's ConvolutionMode: STRICT needs (in + 2p - k) divisible by the stride,
TRUNCATE (DL4J 0.9's default) drops the remainder, SAME gives ceil(in / stride).
DL4J's defaults: convolution kernel 5x5, stride 1x1; subsampling kernel 1x1, stride 2x2; no padding.
"""
from __future__ import annotations

import numpy as np

from graphc.dl4j.builder import ConfigError, Field
from graphc.dl4j.enums import ConvolutionMode, PoolingType, convolution_mode_coercer, pooling_coercer
from graphc.dl4j.input_type import CNN, InputType
from graphc.dl4j.layers.base import LayerConf
from graphc.nn.base import Layer


def _pair(v):
    if v is None:
        return None
    if isinstance(v, (int, np.integer)):
        return (int(v), int(v))
    v = tuple(int(e) for e in v)
    if len(v) != 2:
        raise ConfigError(f"expected 2 sizes (height, width), got {list(v)}")
    return v


def out_size(n, k, s, p, mode, where, axis):
    if mode is ConvolutionMode.SAME:
        return -(-n // s)
    span = n + 2 * p - k
    if span < 0:
        raise ConfigError(f"{where}: kernel {k} (padding {p}) is larger than the input's {axis} {n}; use a smaller "
                          f"kernel or more padding")
    if mode is ConvolutionMode.STRICT and span % s:
        raise ConfigError(f"{where}: ConvolutionMode.STRICT: (input {axis} {n} + 2*padding {p} - kernel {k}) = "
                          f"{span} is not divisible by the stride {s}; change them, or use "
                          f"ConvolutionMode.TRUNCATE / SAME")
    return span // s + 1


class _Spatial(LayerConf):
    """Kernel, stride, padding and ConvolutionMode shared by convolution and subsampling."""

    FIELDS = {"kernel_size": Field(None, _pair), "stride": Field(None, _pair), "padding": Field((0, 0), _pair),
              "convolution_mode": Field(ConvolutionMode.TRUNCATE, convolution_mode_coercer)}
    INPUT_KIND = CNN
    DEFAULT_KERNEL = (5, 5)
    DEFAULT_STRIDE = (1, 1)

    @classmethod
    def from_positional(cls, *args):
        """DL4J's Builder(kh, kw) or Builder(kernel[, stride[, padding]])."""
        if args and all(isinstance(a, (int, np.integer)) for a in args):
            return {"kernel_size": tuple(args)}
        return dict(zip(("kernel_size", "stride", "padding"), args))

    def kernel(self):
        return self.kernel_size or self.DEFAULT_KERNEL

    def strides(self):
        return self.stride or self.DEFAULT_STRIDE

    def output_hw(self, input_type):
        k, s, p = self.kernel(), self.strides(), self.padding or (0, 0)
        return tuple(out_size(n, k[i], s[i], p[i], self.convolution_mode, self.describe(), axis)
                     for i, (n, axis) in enumerate(((input_type.height, "height"), (input_type.width, "width"))))

    def _pre(self):
        """Explicit padding, and the Keras padding mode of the op after it."""
        from graphc.nn import ZeroPadding2D

        pads = self.padding or (0, 0)
        layers = [ZeroPadding2D(padding=pads, data_format="channels_first")] if any(pads) and \
            self.convolution_mode is not ConvolutionMode.SAME else []
        return layers, "same" if self.convolution_mode is ConvolutionMode.SAME else "valid"


class ConvolutionLayer(_Spatial):
    FIELDS = {"has_bias": True}

    def set_n_in(self, input_type):
        super().set_n_in(input_type)
        self.output_hw(input_type)  # sizes that do not fit are refused here, at build()

    def output_type(self, input_type):
        h, w = self.output_hw(input_type)
        return InputType.convolutional(h, w, int(self.n_out))

    def num_params(self, input_type):
        kh, kw = self.kernel()
        return kh * kw * int(self.n_in) * int(self.n_out) + (int(self.n_out) if self.has_bias else 0)

    def validate(self):
        super().validate()
        if self.n_out is None:
            raise ConfigError(f"{self.describe()}: n_out (the number of filters) is not set; give .n_out(n)")

    def kernel_initializer(self):
        """DL4J's convolution fans: fan_in = n_in*kh*kw, fan_out = n_out*kh*kw / (stride_h*stride_w)
        (Keras's has no stride): a fan-averaged scaling is rescaled to DL4J's variance."""
        from graphc.nn.initializers import VarianceScaling

        init = super().kernel_initializer()
        (kh, kw), (sh, sw) = self.kernel(), self.strides()
        if isinstance(init, VarianceScaling) and init.mode == "fan_avg" and sh * sw != 1:
            fan_in, fan_out = int(self.n_in) * kh * kw, int(self.n_out) * kh * kw
            init = VarianceScaling(init.scale * (fan_in + fan_out) / (fan_in + fan_out / (sh * sw)), "fan_avg",
                                   init.distribution, seed=init.seed)
        return init

    def to_nn(self, input_type):
        from graphc.nn import Conv2D

        pre, padding = self._pre()
        act, extra = self.nn_activation()
        conv = Conv2D(int(self.n_out), self.kernel(), strides=self.strides(), padding=padding,
                      data_format="channels_first", activation=act, use_bias=bool(self.has_bias),
                      name=self.nn_name(), kernel_initializer=self.kernel_initializer(),
                      bias_initializer=self.bias_initializer())
        return self.dropout_layers() + pre + [conv] + ([extra] if extra is not None else [])


class PowerPooling2D(Layer):
    """Sum pooling (pnorm=1 without the root) and DL4J's p-norm pooling, (sum |x|^p)^(1/p), over
    NCHW windows, from AveragePool (which has a gradient rule; LpPool has none)."""

    def __init__(self, pool_size, strides, pnorm=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size, self.strides = tuple(pool_size), tuple(strides)
        self.pnorm = None if pnorm is None else int(pnorm)

    def call(self, em, x, mask=None):
        area = em.const(np.float32(self.pool_size[0] * self.pool_size[1]))
        v = x if self.pnorm is None else em.op("Pow", em.op("Abs", x), em.const(np.float32(self.pnorm)))
        s = em.op("Mul", em.op("AveragePool", v, kernel_shape=list(self.pool_size), strides=list(self.strides)),
                  area)
        if self.pnorm is None:
            return s
        # a window of zeros has an infinite root gradient: keep the base off zero
        return em.op("Pow", em.op("Add", s, em.const(np.float32(1e-12))), em.const(np.float32(1.0 / self.pnorm)))


class SubsamplingLayer(_Spatial):
    FIELDS = {"pooling_type": Field(PoolingType.MAX, pooling_coercer), "pnorm": None}
    DEFAULT_KERNEL = (1, 1)
    DEFAULT_STRIDE = (2, 2)

    @classmethod
    def from_positional(cls, *args):
        """DL4J's Builder(PoolingType[, kernel[, stride[, padding]]]) or Builder(kernel, ...)."""
        if args and not isinstance(args[0], (int, np.integer, list, tuple)):
            return {"pooling_type": args[0], **super().from_positional(*args[1:])}
        return super().from_positional(*args)

    def set_n_in(self, input_type):
        if self.n_in is not None and int(self.n_in) != input_type.channels:
            raise ConfigError(f"{self.describe()}: n_in is {self.n_in} but its input has {input_type.channels} "
                              f"channels ({input_type}); leave n_in out to infer it")
        self.n_in = self.n_out = input_type.channels
        self.output_hw(input_type)

    def validate(self):
        super().validate()
        if self.pooling_type is PoolingType.PNORM and not (self.pnorm and int(self.pnorm) >= 1):
            raise ConfigError(f"{self.describe()}: PNORM pooling needs .pnorm(p) with p >= 1")

    def output_type(self, input_type):
        h, w = self.output_hw(input_type)
        return InputType.convolutional(h, w, input_type.channels)

    def to_nn(self, input_type):
        from graphc.nn import AveragePooling2D, MaxPooling2D

        pre, padding = self._pre()
        k, s, pt = self.kernel(), self.strides(), self.pooling_type
        if pt in (PoolingType.MAX, PoolingType.AVG):
            cls = MaxPooling2D if pt is PoolingType.MAX else AveragePooling2D
            pool = cls(pool_size=k, strides=s, padding=padding, data_format="channels_first", name=self.nn_name())
        else:
            if padding == "same":
                raise ConfigError(f"{self.describe()}: {pt.name} pooling with ConvolutionMode.SAME is not built; use "
                                  f"TRUNCATE with explicit padding")
            pool = PowerPooling2D(k, s, self.pnorm if pt is PoolingType.PNORM else None, name=self.nn_name())
        return self.dropout_layers() + pre + [pool]
