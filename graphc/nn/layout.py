"""Channels-last <-> channels-first and TF-style padding, shared by conv and pooling layers.

Keras layers are channels-last; ONNX Conv/Pool want NC(D)HW. A layer wraps its ONNX op in a
Transpose pair (which the optimizer is meant to cancel between consecutive layers).
"""
from __future__ import annotations


def to_channels_first(em, x, channels_last: bool):
    r = em.rank(x)
    return em.transpose(x, [0, r - 1] + list(range(1, r - 1))) if channels_last else x


def to_channels_last(em, x, channels_last: bool):
    r = em.rank(x)
    return em.transpose(x, [0] + list(range(2, r)) + [1]) if channels_last else x


def same_pads(sizes, kernel, strides, dilation):
    """TF's SAME padding: total = max((ceil(n/s)-1)*s + (k-1)*d + 1 - n, 0), the odd unit at the end.

    Returns ONNX `pads` (all begins then all ends), or None when a spatial size is unknown."""
    if any(not isinstance(n, int) for n in sizes):
        return None
    begins, ends = [], []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        eff = (k - 1) * d + 1
        total = max((-(-n // s) - 1) * s + eff - n, 0)
        begins.append(total // 2)
        ends.append(total - total // 2)
    return begins + ends


def pad_attrs(padding: str, sizes, kernel, strides, dilation) -> dict:
    """ONNX pad attributes for Keras `padding` ('valid', 'same' or 'causal', the last for 1D)."""
    if padding == "valid":
        return {"pads": [0] * (2 * len(kernel))}
    if padding == "causal":
        return {"pads": [(kernel[0] - 1) * dilation[0], 0]}
    pads = same_pads(sizes, kernel, strides, dilation)
    return {"auto_pad": "SAME_UPPER"} if pads is None else {"pads": pads}
