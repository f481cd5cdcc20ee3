"""Which engine computes the forward pass and each gradient of a checked convolution (a
:class:`~.plan.Plan`), by the rules of ``choice``: shifted GEMMs over small maps between many
channels (the forward by Winograd where that is faster), the dense matrix of maps smaller than
the kernel, the direct depthwise kernels, the direct kernels of shallow first layers, Winograd,
else im2col. Kernel taps that meet only zero padding are left out first (``plan.trim_taps``)."""
import numpy as np

from . import by_depthwise, by_im2col, by_shallow, by_shifted, by_smallmaps, by_winograd, choice
from .plan import Plan, flat, trim_taps


def forward(c, bias):
    """Run the forward pass of the checked arguments `c`; `bias` (C_out,) or empty."""
    images = choice.shifted_images(c)
    if images and not (choice.winograd_over_shifted(c) and trim_taps(c) is c):
        return by_shifted.forward(c, bias, images)
    if choice.one_position(c):
        return by_smallmaps.forward_one_position(c, bias)
    if choice.small_maps(c):
        return by_smallmaps.forward(c, bias)
    c = trim_taps(c)
    if c.depthwise:
        return by_depthwise.forward(c, bias)
    if choice.shallow(c):
        return by_shallow.forward(c, bias)
    images = choice.winograd_forward_images(c)
    if images:
        return by_winograd.forward(c, bias, images)
    return by_im2col.forward(c, bias)


def input_grad_by_conv(c, gy, winograd_only=False):
    """With stride 1, the input gradient is itself a convolution: grad_output, zero padded by
    dilation * (k - 1) - padding on each side, correlated with the flipped weights whose input and
    output channels are swapped within each group. That turns col2im's scatter into im2col + GEMM
    over the deep K = C_out/groups * taps, or into a Winograd convolution. None when some padding
    exceeds dilation * (k - 1), or with `winograd_only` when that convolution would not run by
    Winograd."""
    kernel = c.weight.shape[2:]
    pads = []
    for k, d, (lo, hi) in zip(kernel, c.dilation, c.pads):
        span = d * (k - 1)
        if not 0 <= lo <= span or not 0 <= hi <= span:
            return None
        pads.append((span - lo, span - hi))
    g, c_out, cg = c.groups, c.weight.shape[0], c.weight.shape[1]
    w = c.weight.reshape((g, c_out // g, cg) + kernel).swapaxes(1, 2)
    w = w[(Ellipsis,) + (slice(None, None, -1),) * c.nd].reshape((g * cg, c_out // g) + kernel)
    t = Plan(gy, w, 1, pads, c.dilation, g, c.nd, x_name="grad_output")
    if winograd_only and not choice.winograd_forward_images(trim_taps(t)):
        return None
    return forward(t, np.empty(0, dtype=c.dtype))


def backward(c, gy, need_input, need_weight, need_bias):
    """(grad_x, grad_w, grad_b) of the checked arguments `c` for the checked, batched
    grad_output `gy` (None where not asked); grad_x batched."""
    grad_x = grad_w = grad_b = None
    if need_bias:
        grad_b = flat(gy).sum(axis=(0, 2))
    if c.depthwise:  # the direct kernels (the weight gradient of wide outputs by im2col)
        direct_weight = need_weight and choice.depthwise_weight_grad_direct(c)
        grad_x, grad_w = by_depthwise.backward(c, gy, need_input, direct_weight)
        need_input, need_weight = False, need_weight and not direct_weight
    t = c
    images = choice.shifted_images(c)
    if images:  # (runs only over the taps that meet the input: the weight gradient comes out whole)
        if need_input:
            grad_x = by_shifted.input_grad(c, gy, images)
        if need_weight:
            grad_w = by_shifted.weight_grad(c, gy, images)
    elif (need_input or need_weight) and choice.small_maps(c):
        # (the untrimmed taps: the weight gradient comes out whole)
        grad_x, grad_w = by_smallmaps.backward(c, gy, need_input, need_weight)
    else:
        # the taps that meet only zero padding get a zero weight gradient and give no input
        # gradient: the kernels run without them (trimmed only here: the copy of the kept taps
        # cost 0.65 ms a call for a 512x512x3x3 weight on 1x1 maps, which the engines above,
        # with the whole weight, never read)
        t = trim_taps(c)
        if need_input and choice.input_grad_as_conv(t):
            grad_x = input_grad_by_conv(t, gy, choice.input_grad_needs_winograd(t))
            need_input = grad_x is None
        if need_input:
            grad_x = by_im2col.input_grad(t, gy)
        if need_weight and choice.shallow_weight_grad(t):
            grad_w = by_shallow.weight_grad(t, gy)
        elif need_weight:
            plan = choice.weight_grad_winograd(t)
            grad_w = by_winograd.weight_grad(t, gy, *plan) if plan else by_im2col.weight_grad(t, gy)
    if need_weight and t is not c:
        full = np.zeros(c.weight.shape, dtype=c.dtype)
        full[t.taps] = grad_w
        grad_w = full
    return grad_x, grad_w, grad_b
