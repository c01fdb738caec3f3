"""Attention layers: MultiHeadAttention (masks, causal), Attention (Luong) and AdditiveAttention (Bahdanau)."""
from __future__ import annotations

import numpy as np

from graphc.nn.base import Layer, weight_objects
from graphc.nn.regularization import dropout

_NEG = -1e9  # what Keras's masked softmax puts at masked positions


class _Projection(Layer):
    """One of MultiHeadAttention's EinsumDense projections: a kernel and an optional bias."""

    def __init__(self, name, kernel_shape, bias_shape, objects):
        super().__init__(name=name)
        self.keras_objects.update(objects)  # the attention layer's kernel_/bias_ initializers and the rest
        self.kernel = self.add_weight("kernel", kernel_shape)
        self.bias = self.add_weight("bias", bias_shape, "zeros") if bias_shape is not None else None
        self.built = True

    def project(self, em, x, n_in: int):
        """x (..., in...) @ kernel flattened to 2-D: returns (..., out...) flattened."""
        kshape = self.kernel.shape
        k = em.reshape(em.weight(self.kernel), [int(np.prod(kshape[:n_in])), int(np.prod(kshape[n_in:]))])
        y = em.op("MatMul", x, k)
        if self.bias is not None:
            y = em.op("Add", y, em.reshape(em.weight(self.bias), [-1]))
        return y


class MultiHeadAttention(Layer):
    call_args = ("query", "value", "key", "query_mask", "value_mask", "key_mask", "attention_mask",
                 "return_attention_scores", "training", "use_causal_mask")
    n_call_inputs, n_required_inputs = 3, 2

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, flash_attention=None, seed=None, use_gate=False, sliding_window=None,
                 query_shape=None, key_shape=None, value_shape=None, softmax_robust_masking=False, **kwargs):
        super().__init__(**kwargs)
        if use_gate or sliding_window is not None:
            from graphc.errors import UnsupportedOpError

            raise UnsupportedOpError(f"MultiHeadAttention {self.name!r}: use_gate and sliding_window "
                                     f"are not supported")
        self.num_heads, self.key_dim = int(num_heads), int(key_dim)
        self.dropout, self.seed = float(dropout), seed
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.use_bias = bool(use_bias)
        self.out_dim = output_shape
        if attention_axes not in (None, [1], (1,), 1):
            from graphc.errors import UnsupportedOpError

            raise UnsupportedOpError(f"MultiHeadAttention {self.name!r}: attention_axes={attention_axes} "
                                     f"is not supported (only attention over axis 1)")

    def build(self, input_shape):
        """The projections are made in the first call, where query, value and key shapes are all known."""

    def build_projections(self, q_shape, v_shape, k_shape):
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        out = self.out_dim if self.out_dim is not None else q_shape[-1]
        out = [out] if isinstance(out, int) else list(out)
        b = self.use_bias
        objects = weight_objects(self)
        self.query_dense = _Projection("query", (q_shape[-1], h, kd), (h, kd) if b else None, objects)
        self.key_dense = _Projection("key", (k_shape[-1], h, kd), (h, kd) if b else None, objects)
        self.value_dense = _Projection("value", (v_shape[-1], h, vd), (h, vd) if b else None, objects)
        self.output_dense = _Projection("attention_output", (h, vd, *out), tuple(out) if b else None, objects)

    def sublayers(self):
        if not hasattr(self, "query_dense"):
            return []
        return [("query_dense", self.query_dense), ("key_dense", self.key_dense),
                ("value_dense", self.value_dense), ("output_dense", self.output_dense)]

    def call(self, em, x, mask=None, key=None, attention_mask=None, return_attention_scores=False,
             use_causal_mask=False, query_mask=None, value_mask=None, key_mask=None):
        query, value = x[0], x[1]
        if key is None:
            key = x[2] if len(x) > 2 else value
        if not hasattr(self, "query_dense"):
            self.build_projections(em.shape(query), em.shape(value), em.shape(key))
        h, kd, vd = self.num_heads, self.key_dim, self.value_dim
        T, S = em.shape(query)[1], em.shape(value)[1]

        def heads(y, d, length):  # (B, L, h*d) -> (B, h, L, d)
            return em.transpose(em.reshape(y, [0, length, h, d]), [0, 2, 1, 3])

        q = heads(self.query_dense.project(em, query, 1), kd, T)
        k = heads(self.key_dense.project(em, key, 1), kd, S)
        v = heads(self.value_dense.project(em, value, 1), vd, S)
        q = em.op("Mul", q, em.const(np.float32(1.0 / np.sqrt(kd))))
        scores = em.op("MatMul", q, em.transpose(k, [0, 1, 3, 2]))  # (B, h, T, S)
        masks = (list(mask) if isinstance(mask, list) else []) + [None] * 3
        # as in Keras: explicit value/key masks take the place of the tensors' own; the query's
        # own mask always wins over an explicit query_mask (Keras's call overwrites it)
        masks = [masks[0]] + [given if given is not None else own
                              for given, own in zip((value_mask, key_mask), masks[1:3])]
        keep = self._mask(em, query, value, masks, attention_mask, use_causal_mask, T, S)
        if keep is not None:
            scores = em.op("Where", em.unsqueeze(keep, [1]), scores, em.const(np.float32(_NEG)))
        probs = em.op("Softmax", scores, axis=-1)
        attn = em.op("MatMul", dropout(em, probs, self.dropout, seed=self.seed), v)  # (B, h, T, vd)
        merged = em.reshape(em.transpose(attn, [0, 2, 1, 3]), [0, T, h * vd])
        out = self.output_dense.project(em, merged, 2)
        out_shape = self.output_dense.kernel.shape[2:]
        if len(out_shape) > 1:
            out = em.reshape(out, [0, T] + list(out_shape))
        return [out, probs] if return_attention_scores else out

    def _mask(self, em, query, value, mask, attention_mask, causal, T, S):
        """The (B|1, T, S) boolean mask of allowed positions, or None."""
        parts = []
        if attention_mask is not None:
            m = attention_mask
            if em.type(m).dtype != np.bool_:
                m = em.op("Cast", m, to=9)
            parts.append(m)
        for m, axis in zip(mask, (2, 1, 1)):  # query mask over T; value and key masks over S
            if m is not None:
                parts.append(em.unsqueeze(m if em.type(m).dtype == np.bool_ else em.op("Cast", m, to=9), [axis]))
        if causal:
            parts.append(em.const(np.tril(np.ones((1, T, S), bool)), np.bool_))
        if not parts:
            return None
        out = parts[0]
        for p in parts[1:]:
            out = em.op("And", out, p)
        return out

    def compute_mask(self, em, x, mask):
        return mask[0] if isinstance(mask, list) else None


class Attention(Layer):
    """Luong attention: scores = q . k (scaled by a learned `scale` with use_scale), or the 'concat'
    score `concat_score_weight * sum(tanh(scale * (q + k)))`."""

    call_args = ("inputs", "mask", "training", "return_attention_scores", "use_causal_mask")

    def __init__(self, use_scale=False, score_mode="dot", dropout=0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.use_scale, self.score_mode = bool(use_scale), score_mode
        self.dropout, self.seed = float(dropout), seed

    def build(self, input_shape):
        self.scale = self.add_weight("scale", (), "ones") if self.use_scale else None
        self.concat_score_weight = self.add_weight("concat_score_weight", (), "ones") \
            if self.score_mode == "concat" else None

    def scores(self, em, q, k):
        if self.score_mode == "dot":
            s = em.op("MatMul", q, em.transpose(k, [0, 2, 1]))
            return em.op("Mul", s, em.weight(self.scale)) if self.scale else s
        summed = em.op("Add", em.unsqueeze(q, [2]), em.unsqueeze(k, [1]))
        if self.scale:
            summed = em.op("Mul", summed, em.weight(self.scale))
        s = em.reduce("ReduceSum", em.op("Tanh", summed), [-1], False)
        return em.op("Mul", s, em.weight(self.concat_score_weight))

    def call(self, em, x, mask=None, return_attention_scores=False, use_causal_mask=False):
        q, v = x[0], x[1]
        k = x[2] if len(x) > 2 else v
        s = self.scores(em, q, k)
        T, S = em.shape(q)[1], em.shape(v)[1]
        keep = []
        if isinstance(mask, list) and len(mask) > 1 and mask[1] is not None:
            keep.append(em.unsqueeze(mask[1], [1]))
        if use_causal_mask:
            keep.append(em.const(np.tril(np.ones((1, T, S), bool)), np.bool_))
        for m in keep:
            s = em.op("Where", m, s, em.const(np.float32(_NEG)))
        probs = dropout(em, em.op("Softmax", s, axis=-1), self.dropout, seed=self.seed)  # Keras returns these
        out = em.op("MatMul", probs, v)
        if isinstance(mask, list) and mask[0] is not None:
            out = em.op("Mul", out, em.unsqueeze(em.op("Cast", mask[0], to=1), [-1]))
        return [out, probs] if return_attention_scores else out

    def compute_mask(self, em, x, mask):
        return mask[0] if isinstance(mask, list) else None


class AdditiveAttention(Attention):
    """Bahdanau attention: scores = sum(scale * tanh(q + k)), `scale` of the feature size."""

    def __init__(self, use_scale=True, dropout=0.0, **kwargs):
        super().__init__(use_scale=use_scale, dropout=dropout, **kwargs)

    def build(self, input_shape):
        dim = input_shape[0][-1]
        self.scale = self.add_weight("scale", (dim,)) if self.use_scale else None

    def scores(self, em, q, k):
        t = em.op("Tanh", em.op("Add", em.unsqueeze(q, [2]), em.unsqueeze(k, [1])))
        if self.scale:
            t = em.op("Mul", t, em.weight(self.scale))
        return em.reduce("ReduceSum", t, [-1], False)
