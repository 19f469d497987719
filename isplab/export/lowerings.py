"""litert-torch lowerings for isplab's custom torch ops (imported only when converting).

``isplab::depth_to_space`` (see :func:`isplab.models.ops.depth_to_space`) runs NHWC as
``isplab::depth_to_space_nhwc``, which becomes TFLite's builtin ``DEPTH_TO_SPACE``;
``isplab::prelu_nhwc`` (see :class:`isplab.export.wrapper.ExportPReLU`) becomes ``PRELU``.
litert-torch carries TFLite ops through StableHLO as a ``custom_call`` whose target is the ``tfl.*`` op
name and whose ``backend_config`` holds the attributes (the same carrier its own ``torch.ops.tfl.*`` ops
use); the converter legalises it to the builtin.
"""

from __future__ import annotations

_registered = False


def register_lowerings() -> None:
    """Register the lowerings with litert-torch's global registry (idempotent)."""
    global _registered
    if _registered:
        return
    import torch
    from litert_converter.mlir import ir
    from litert_converter.mlir.dialects import stablehlo
    from litert_torch.backend.lowerings import registry
    from litert_torch.backend.lowerings import utils as lowering_utils

    import isplab.export.wrapper  # noqa: F401  (defines torch.ops.isplab.prelu, prelu_nhwc)
    import isplab.models.ops  # noqa: F401  (defines torch.ops.isplab.depth_to_space_nhwc)

    @registry.lower(torch.ops.isplab.depth_to_space_nhwc.default)
    def _depth_to_space(lctx, x, block: int):
        attrs = ir.DictAttr.get({"block_size": ir.IntegerAttr.get(ir.IntegerType.get_signless(32), block)})
        return stablehlo.custom_call(
            result=lowering_utils.node_meta_to_ir_types(lctx.node),
            inputs=[x],
            call_target_name=ir.StringAttr.get("tfl.depth_to_space"),
            has_side_effect=ir.BoolAttr.get(False),
            backend_config=ir.StringAttr.get(str(attrs)),
        )

    @registry.lower(torch.ops.isplab.prelu_nhwc.default)
    def _prelu(lctx, x, alpha):
        # TFLite PRELU: inputs (input, alpha), alpha broadcast against input; no attributes.
        return stablehlo.custom_call(
            result=lowering_utils.node_meta_to_ir_types(lctx.node),
            inputs=[x, alpha],
            call_target_name=ir.StringAttr.get("tfl.prelu"),
            has_side_effect=ir.BoolAttr.get(False),
            backend_config=ir.StringAttr.get(str(ir.DictAttr.get({}))),
        )

    _register_prelu_layout()
    _register_depth_to_space_layout()
    _registered = True


def _register_prelu_layout() -> None:
    """Let litert-torch's layout-transpose pass treat ``isplab::prelu`` like a convolution: a 4-D input
    is always NHWC, rewritten to ``isplab::prelu_nhwc`` with ``alpha (1, 1, C)`` (TFLite PRELU's per-channel
    broadcast shape), so no TRANSPOSE appears around it and the ops after it stay NHWC as well."""
    import torch
    from litert_torch import fx_infra
    from litert_torch._convert.fx_passes.optimize_layout_transposes_pass import layout_check, layout_rewrite

    op = torch.ops.isplab.prelu.default

    def prelu_nhwc(x, alpha):
        return torch.ops.isplab.prelu_nhwc(x, alpha.reshape(1, 1, -1))

    def rewrite(node) -> None:
        node.target = prelu_nhwc

    def checker(node):
        can_be = layout_check.is_4d(node.args[0])
        return layout_check.NHWCable(can_be, must_be=can_be)

    def relu_form(x, alpha):  # never NHWC (not 4-D): litert-torch's own GPU-clean PReLU decomposition
        alpha = alpha.reshape(-1, *[1] * (x.dim() - 2)) if x.dim() > 1 else alpha
        return torch.relu(x) - alpha * torch.relu(-x)

    layout_check.layout_sensitive_inputs_getters.register(op)(lambda node: [node.args[0]])
    layout_check.nhwcable_node_checkers.register(op)(checker)
    layout_rewrite.rewriters.register(op)(rewrite)
    fx_infra.decomp.add_pre_lower_decomp(op, relu_form)


def _register_depth_to_space_layout() -> None:
    """Let the layout-transpose pass run ``isplab::depth_to_space`` in NHWC as ``depth_to_space_nhwc``: the
    ops around it (e.g. MicroISP's concatenation of its colour branches) then stay NHWC too, instead of
    going back to NCHW and paying a full-resolution TRANSPOSE at the output."""
    import torch
    from litert_torch import fx_infra
    from litert_torch._convert.fx_passes.optimize_layout_transposes_pass import layout_check, layout_rewrite

    op = torch.ops.isplab.depth_to_space.default

    def rewrite(node) -> None:
        node.target = torch.ops.isplab.depth_to_space_nhwc.default

    def checker(node):
        can_be = layout_check.is_4d(node.args[0])
        return layout_check.NHWCable(can_be, must_be=can_be)

    def nchw_form(x, block):  # left NCHW by the pass: the NHWC op between two permutes
        return torch.ops.isplab.depth_to_space_nhwc(x.permute(0, 2, 3, 1), block).permute(0, 3, 1, 2)

    layout_check.layout_sensitive_inputs_getters.register(op)(lambda node: [node.args[0]])
    layout_check.nhwcable_node_checkers.register(op)(checker)
    layout_rewrite.rewriters.register(op)(rewrite)
    fx_infra.decomp.add_pre_lower_decomp(op, nchw_form)
